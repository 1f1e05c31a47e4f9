"""Structured logs (one JSON object a line, LOG_FORMAT=json) and Sentry only when SENTRY_DSN is set."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from common.jsonlog import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def test_a_log_record_is_one_json_line_with_its_extras():
    record = logging.LogRecord("bmp.tasks", logging.ERROR, __file__, 1, "Échec de %s", ("l'import",), None)
    record.campagne = 2025
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "bmp.tasks"
    assert data["message"] == "Échec de l'import"
    assert data["campagne"] == 2025
    assert data["time"].endswith("+00:00")


def test_an_exception_is_kept_in_the_line():
    try:
        raise ValueError("fichier illisible")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boum", (), sys.exc_info())
    assert "ValueError: fichier illisible" in json.loads(JsonFormatter().format(record))["exception"]


def shell(code, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY")}
    environment.update(DJANGO_SETTINGS_MODULE="jumo.settings.dev", **env)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_sentry_is_off_without_a_dsn():
    assert shell("import sentry_sdk; print(sentry_sdk.get_client().is_active())") == "False"


def test_sentry_is_on_with_a_dsn_and_sends_no_personal_data():
    # A DSN on loopback's discard port: nothing leaves the machine, nothing is sent during the check.
    dsn = "http://cle-publique@127.0.0.1:9/1"
    code = (
        "import sentry_sdk; c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options['dsn'], c.options['send_default_pii'])"
    )
    assert shell(code, SENTRY_DSN=dsn) == f"True {dsn} False"

"""The deployment files: the compose stack (parsed, and validated by docker-compose when this
machine has it), the image, the .env example, and no secret in the repository."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_stack_has_its_services_each_with_a_health_check():
    assert {"postgres", "redis", "web", "worker", "beat", "mailpit"} <= set(SERVICES)
    for name in ("postgres", "redis", "web", "worker", "beat", "mailpit"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_the_database_and_redis_keep_their_data_in_volumes():
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "redisdata:/data" in SERVICES["redis"]["volumes"]
    assert {"pgdata", "redisdata"} <= set(COMPOSE["volumes"])


def test_web_worker_and_beat_run_the_image_after_the_migrations():
    assert SERVICES["web"]["command"][0] == "gunicorn"
    assert SERVICES["worker"]["command"][:4] == ["celery", "-A", "jumo", "worker"]
    assert SERVICES["beat"]["command"][:4] == ["celery", "-A", "jumo", "beat"]
    for name in ("web", "worker", "beat"):
        service = SERVICES[name]
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "jumo.settings.production"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["env_file"] == ".env.production"
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_one_beat_only():
    assert SERVICES["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "ONE beat only" in (ROOT / "docker-compose.yml").read_text()


def test_mails_go_to_mailpit_in_the_stack():
    example = (ROOT / ".env.production.example").read_text()
    assert "EMAIL_URL=smtp://mailpit:1025" in example
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit")


def test_the_image_runs_as_a_user_with_gunicorn_and_collected_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "collectstatic" in dockerfile
    assert 'CMD ["gunicorn"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".env.production", ".git", ".venv"} <= set(ignored)


def test_the_env_example_names_every_secret_without_giving_one():
    example = dict(
        line.split("=", 1) for line in (ROOT / ".env.production.example").read_text().splitlines() if "=" in line
    )
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "POSTGRES_PASSWORD", "EMAIL_URL"):
        assert name in example, name
    assert "change-me" in example["SECRET_KEY"] and "change-me" in example["POSTGRES_PASSWORD"]
    assert ".env.production" in (ROOT / ".gitignore").read_text().split()


def _compose_command():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="neither docker-compose nor the compose plugin is installed")
def test_docker_compose_config_accepts_the_stack(tmp_path):
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.production.example", tmp_path / ".env.production")
    result = subprocess.run(
        [*_compose_command(), "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    re.compile(r"AKIA[0-9A-Z]{16}"),  # cloud access keys
    re.compile(r"https://[0-9a-f]{32}@[^/\s]+/\d+"),  # a Sentry DSN
    # A literal value given to a secret setting (not env(...), not a call).
    re.compile(
        r"""^\s*(SECRET_KEY|OIDC_RP_CLIENT_SECRET|POSTGRES_PASSWORD)\s*=\s*["']?([^"'\s#().,]{12,})(?=["'\s]|$)""",
        re.M,
    ),
]
ALLOWED_VALUES = {"dev-only-insecure-key-change-me", "change-me-with-50-random-characters"}


def test_no_secret_in_the_repository():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = []
    for name in listed:
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000 or name.startswith(("static/vendor/", "fixtures/")):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for pattern in SECRET_PATTERNS:
            for match in pattern.finditer(text):
                value = match.group(match.lastindex) if match.lastindex else match.group(0)
                if value not in ALLOWED_VALUES and "env(" not in match.group(0):
                    found.append(f"{name}: {match.group(0)[:60]}")
    assert not found, found

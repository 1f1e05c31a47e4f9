"""jumo.settings.production passes `manage.py check --deploy` with nothing more than what the
environment must give (SECRET_KEY, ALLOWED_HOSTS, DEBUG=False), and refuses to start without a key."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "JUMO_", "SECURE_", "SENTRY"))}
    env.update(
        DJANGO_SETTINGS_MODULE="jumo.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="jumo.ac-creteil.fr",
        DEBUG="False",
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_nothing():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout and "?: (" not in output, output


def test_production_settings_behind_the_proxy():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'proxy': s.SECURE_PROXY_SSL_HEADER, 'redirect': s.SECURE_SSL_REDIRECT, 'exempt': s.SECURE_REDIRECT_EXEMPT,"
        "'hsts': s.SECURE_HSTS_SECONDS, 'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE,"
        "'httponly': s.SESSION_COOKIE_HTTPONLY, 'samesite': [s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE],"
        "'xfo': s.X_FRAME_OPTIONS, 'referrer': s.SECURE_REFERRER_POLICY, 'debug': s.DEBUG,"
        "'whitenoise': 'whitenoise.middleware.WhiteNoiseMiddleware' in s.MIDDLEWARE,"
        "'log': s.LOGGING['handlers']['console']['formatter']}))"
    )
    result = manage("shell", "-c", code, env=production_env())
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "redirect": True,
        "exempt": ["^healthz$"],
        "hsts": 31_536_000,
        "session_secure": True,
        "csrf_secure": True,
        "httponly": True,
        "samesite": ["Lax", "Lax"],
        "xfo": "DENY",
        "referrer": "same-origin",
        "debug": False,
        "whitenoise": True,
        "log": "json",
    }


def test_sessions_are_read_from_redis_only_when_the_cache_is_shared():
    """With the stack's CACHE_URL (Redis), sessions are cached there; with the per-process default
    cache they stay in the database (one process's cache would not see another's logout)."""
    code = "from django.conf import settings as s; print(s.SESSION_ENGINE, s.CACHES['default']['BACKEND'])"
    moteurs = {}
    for cache_url in ("redis://127.0.0.1:6379/1", None):
        result = manage("shell", "-c", code, env=production_env(CACHE_URL=cache_url))
        assert result.returncode == 0, result.stderr
        moteurs[cache_url] = result.stdout.strip().splitlines()[-1]
    assert moteurs == {
        "redis://127.0.0.1:6379/1": "django.contrib.sessions.backends.cached_db "
        "django.core.cache.backends.redis.RedisCache",
        None: "django.contrib.sessions.backends.db django.core.cache.backends.locmem.LocMemCache",
    }
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "CACHE_URL: redis://redis:6379/1" in compose


@pytest.mark.skipif(
    "SECRET_KEY" in (ROOT / ".env").read_text() if (ROOT / ".env").exists() else False,
    reason="a local .env gives SECRET_KEY",
)
def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", env=production_env(SECRET_KEY=None))
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr

"""Production: everything sensitive must come from the environment; HTTPS behind a reverse proxy.

`DJANGO_SETTINGS_MODULE=jumo.settings.production python manage.py check --deploy` reports no
issue (tests/ops/test_deploy_check.py). README "Production" describes the stack.
"""

from .base import *  # noqa: F403
from .base import LOGGING, MIDDLEWARE, env

SECRET_KEY = env("SECRET_KEY")  # no default: JUMO does not start without it
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# HTTPS ends at the reverse proxy, which says so in X-Forwarded-Proto (and must overwrite it).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer probes /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[f"https://{host}" for host in ALLOWED_HOSTS])

# Static files: collected at build time (Dockerfile), hashed names, served by gunicorn through
# WhiteNoise (compressed, cached for ever). In development, runserver serves them.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "common.storage.StaticStorage"},
}

# One JSON object a line, for the log collector; Celery keeps the same format.
LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="json")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

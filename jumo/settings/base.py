"""Settings shared by every environment; every value that varies comes from the environment."""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "widget_tweaks",
    "dsfr",
    "establishments",
    "bmp",
    "jumelages",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "jumo.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dsfr.context_processors.site_config",
            ],
        },
    },
]

WSGI_APPLICATION = "jumo.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: seconds a connection is kept for the next requests (0: one per request);
# CONN_MAX_AGE, or ?conn_max_age= in DATABASE_URL. A new PostgreSQL connection costs more than a page.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=DATABASES["default"].get("CONN_MAX_AGE", 0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- JUMO ---------------------------------------------------------------
# Mail domain of the académie: a school's mailbox is ce.<uai>@<domain>.
ACADEMIE_MAIL_DOMAIN = env("ACADEMIE_MAIL_DOMAIN", default="ac-creteil.fr")
# The nightly BMP refresh reads this file (FORMATS.md "BMP refresh").
JUMO_BMP_REFRESH_FILE = env("JUMO_BMP_REFRESH_FILE", default=str(BASE_DIR / "var" / "bmp.csv"))
# A refresh that would withdraw more than this share of active BMPs is refused unless forced.
JUMO_REFRESH_MAX_WITHDRAWAL_RATIO = env.float("JUMO_REFRESH_MAX_WITHDRAWAL_RATIO", default=0.20)
# Where the real reference data lives (schools, communes, disciplines, zones).
JUMO_REFERENCE_DATA_DIR = env("JUMO_REFERENCE_DATA_DIR", default=str(BASE_DIR / "fixtures"))
# A school has this many hours to answer a request; then it expires (72 hours in the instruction).
JUMO_DELAI_REPONSE_HEURES = env.int("JUMO_DELAI_REPONSE_HEURES", default=72)
# Hard maximum of a jumelage's total hours; None: off (above the target, only a warning).
JUMO_TOTAL_MAX_HEURES = env.float("JUMO_TOTAL_MAX_HEURES", default=None)

# --- Mail ---------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="JUMO <ne-pas-repondre@ac-creteil.fr>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# An SMTP server that stops answering must not hold a worker (and its claimed mail) forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Notifications (the outbox: docs/ARCHITECTURE.md) ---------------------
# Links in the mails: JUMO_BASE_URL + /demandes/<id>/ or /jumelages/<id>/.
JUMO_BASE_URL = env("JUMO_BASE_URL", default="http://127.0.0.1:8000")
# Each mail has its own Message-ID on this domain, fixed when its outbox row is written.
JUMO_MESSAGE_ID_DOMAIN = env("JUMO_MESSAGE_ID_DOMAIN", default=f"jumo.{ACADEMIE_MAIL_DOMAIN}")
# Reminder to the school that must answer, this many hours before a request ends (our addition).
JUMO_RAPPEL_AVANT_ECHEANCE_HEURES = 24
JUMO_RAPPELS_ACTIFS = env.bool("JUMO_RAPPELS_ACTIFS", default=True)
# Outbox: a failed send is tried again after DELAI_ESSAI seconds, doubled each time (at most
# DELAI_ESSAI_MAX), TENTATIVES_MAX times in all; then the mail is « en échec » in the admin.
JUMO_NOTIFICATIONS_TENTATIVES_MAX = env.int("JUMO_NOTIFICATIONS_TENTATIVES_MAX", default=8)
JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES = env.int("JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES", default=60)
JUMO_NOTIFICATIONS_DELAI_ESSAI_MAX_SECONDES = env.int("JUMO_NOTIFICATIONS_DELAI_ESSAI_MAX_SECONDES", default=3600)
# A mail claimed by a worker this long ago without outcome is taken up again (the worker died);
# well above EMAIL_TIMEOUT, so that a slow send is not duplicated.
JUMO_NOTIFICATIONS_RECLAMATION_SECONDES = env.int("JUMO_NOTIFICATIONS_RECLAMATION_SECONDES", default=600)
# The sweep queues again a mail due for this long and still unsent (its queued task was lost).
JUMO_NOTIFICATIONS_RELANCE_SECONDES = env.int("JUMO_NOTIFICATIONS_RELANCE_SECONDES", default=120)
# At most this many mails queued again by one sweep; the rest at the next one.
JUMO_NOTIFICATIONS_RELANCE_MAX = env.int("JUMO_NOTIFICATIONS_RELANCE_MAX", default=10_000)
# Mails per Celery message (sent over one SMTP connection).
JUMO_NOTIFICATIONS_LOT = env.int("JUMO_NOTIFICATIONS_LOT", default=50)

# --- Celery -------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=None)
# Without a broker, tasks run inline: a newcomer needs no Redis to try JUMO.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "bmp-nightly-refresh": {
        "task": "bmp.tasks.nightly_refresh",
        "schedule": crontab(hour=2, minute=0),
    },
}
# The workflow's sweeps: idempotent, they catch up after any delay.
CELERY_BEAT_SCHEDULE["jumelages-expire-overdue-requests"] = {
    "task": "jumelages.tasks.expire_overdue_requests",
    "schedule": crontab(minute="*/5"),
}
CELERY_BEAT_SCHEDULE["jumelages-close-campaigns"] = {
    "task": "jumelages.tasks.close_campaigns",
    "schedule": crontab(minute="*/15"),
}
# The outbox: mails left unsent are queued again; reminders before a request ends.
CELERY_BEAT_SCHEDULE["notifications-sweep-outbox"] = {
    "task": "notifications.tasks.sweep_outbox",
    "schedule": crontab(minute="*"),
}
CELERY_BEAT_SCHEDULE["notifications-send-reminders"] = {
    "task": "notifications.tasks.send_reminders",
    "schedule": crontab(minute="*/5"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- DOS workspace (issue 7) --------------------------------------------
# A jumelage this many hours or more away from its target is "far from the target" (dashboard, admin).
JUMO_ECART_CIBLE_ALERTE_HEURES = env.float("JUMO_ECART_CIBLE_ALERTE_HEURES", default=2)
# Dashboard: an unpaired BMP with a free partner within this distance deserves a look.
JUMO_DISTANCE_PARTENAIRE_KM = env.float("JUMO_DISTANCE_PARTENAIRE_KM", default=15)

# --- Heads' pages (web) -------------------------------------------------
INSTALLED_APPS += ["web", "dos"]
TEMPLATES[0]["OPTIONS"]["context_processors"] += ["web.context_processors.jumo"]
# django-dsfr's site configuration in one query instead of two (web.context_processors.site_config).
_PROCESSORS = TEMPLATES[0]["OPTIONS"]["context_processors"]
_PROCESSORS[_PROCESSORS.index("dsfr.context_processors.site_config")] = "web.context_processors.site_config"
# JavaScript libraries vendored by bin/vendor (committed: running JUMO needs no node).
STATICFILES_DIRS = [BASE_DIR / "static"]
LOGIN_URL = "web:connexion"
LOGIN_REDIRECT_URL = "web:accueil"
LOGOUT_REDIRECT_URL = "web:connexion"
# Tiles of the map (outil de localisation); the page works without them (the list beside it).
JUMO_TILE_URL = env("JUMO_TILE_URL", default="https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
JUMO_TILE_ATTRIBUTION = env("JUMO_TILE_ATTRIBUTION", default="© les contributeurs d'OpenStreetMap (ODbL)")

# --- Production readiness (issue 8: security, SSO, audit, operations) ------------------------
# README "Production" explains each of these settings; .env.example lists the variables.
import datetime  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from csp.constants import NONCE, NONE, SELF  # noqa: E402

INSTALLED_APPS += ["csp", "axes", "mozilla_django_oidc", "audit", "ops", "sso"]
TEMPLATES[0]["OPTIONS"]["context_processors"] += ["common.security.csp_nonce", "sso.context_processors.sso"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"), "common.security.AdminNetworkMiddleware"
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "common.security.SessionTimeoutMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("common.security.SessionTimeoutMiddleware") + 1, "sso.middleware.ProviderLogoutMiddleware"
)
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes requires

# Behind the reverse proxy: how many proxies append to X-Forwarded-For (0: none, the address of
# the connection is the client's). Read by the login throttling, the journal and the admin filter.
JUMO_TRUSTED_PROXY_COUNT = env.int("JUMO_TRUSTED_PROXY_COUNT", default=0)
# The admin answers only to these networks (CIDR, comma-separated); empty: no restriction.
JUMO_ADMIN_ALLOWED_NETWORKS = env.list("JUMO_ADMIN_ALLOWED_NETWORKS", default=[])

# Cache shared by the web processes: Redis in production (CACHE_URL=redis://…/1). Sessions are then
# read from it (cached_db: written through to the database, read from Redis), which saves a
# PostgreSQL query on every page. With the default per-process memory cache, sessions stay in the
# database only: a process's cache would not see another one's logout.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHES["default"]["BACKEND"].endswith("RedisCache")
    else "django.contrib.sessions.backends.db"
)

# Sessions: 12 hours after login at most (like a ProConnect session), 30 minutes idle at most.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
JUMO_SESSION_INACTIVITE_SECONDES = env.int("JUMO_SESSION_INACTIVITE_SECONDES", default=30 * 60)
SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: the return from ProConnect is a cross-site redirect that must carry the session.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Secure cookies need HTTPS: on in production (production.py), off for bin/demo on http://127.0.0.1.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one identifier from one
# address, that pair is refused for AXES_COOLOFF_TIME; a success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "sso.backends.ProConnectBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "common.security.client_ip"
AXES_LOCKOUT_CALLABLE = "common.security.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # the audit app keeps the journal of logins

# Content-Security-Policy: no inline script (a nonce for the DSFR's, {% dsfr_js nonce=request.csp_nonce %}).
_TILE_HOST = urlsplit(globals().get("JUMO_TILE_URL", "")).netloc
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"] + ([f"https://{_TILE_HOST.replace('{s}', '*')}"] if _TILE_HOST else []),
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Uploads (the refresh file in the admin, issue 7): common.uploads.validate_upload refuses a file
# above JUMO_UPLOAD_MAX_BYTES or not a text file; the request body itself is capped by Django.
JUMO_UPLOAD_MAX_BYTES = env.int("JUMO_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
FILE_UPLOAD_PERMISSIONS = 0o640

# SSO: ProConnect (OpenID Connect, mozilla-django-oidc); off while the client is not configured.
# Endpoints left empty are read from the discovery document OIDC_OP_DISCOVERY_URL.
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_DISCOVERY_URL = env("OIDC_OP_DISCOVERY_URL", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_LOGOUT_ENDPOINT = env("OIDC_OP_LOGOUT_ENDPOINT", default="")
OIDC_OP_ISSUER = env("OIDC_OP_ISSUER", default="")
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", default="openid email given_name usual_name")
OIDC_USE_NONCE = True
OIDC_STATE_SIZE = 64  # ProConnect: at least 32 characters
OIDC_NONCE_SIZE = 64
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the logout
OIDC_CREATE_USER = False  # accounts are opened by the DOS (create_account), never by a login
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:retour"
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)
OIDC_VERIFY_SSL = env.bool("OIDC_VERIFY_SSL", default=True)
OIDC_LEEWAY_SECONDES = 60
LOGIN_REDIRECT_URL_FAILURE = LOGIN_URL
for _url in (OIDC_OP_LOGOUT_ENDPOINT, OIDC_OP_DISCOVERY_URL):
    # The logout form's redirect to the provider is a form action for the browser.
    if _url:
        _parts = urlsplit(_url)
        CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(f"{_parts.scheme}://{_parts.netloc}")

# Health check (/healthz): beat's heartbeat every minute; too old → 503.
CELERY_BEAT_SCHEDULE["ops-heartbeat"] = {"task": "ops.tasks.heartbeat", "schedule": crontab(minute="*")}
JUMO_HEALTH_MAX_AGE_BEAT_SECONDES = env.int("JUMO_HEALTH_MAX_AGE_BEAT_SECONDES", default=300)
# The nightly refresh, while a campaign is open: one night and two hours.
JUMO_HEALTH_MAX_AGE_ACTUALISATION_SECONDES = env.int("JUMO_HEALTH_MAX_AGE_ACTUALISATION_SECONDES", default=26 * 3600)
JUMO_HEALTH_TIMEOUT_SECONDES = env.int("JUMO_HEALTH_TIMEOUT_SECONDES", default=3)

# Logs: LOG_FORMAT=json writes one JSON object a line (the default in production).
LOGGING["formatters"]["json"] = {"()": "common.jsonlog.JsonFormatter"}
LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="plain")

# Errors to Sentry when SENTRY_DSN is set (and sentry-sdk installed); nothing is sent otherwise.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    try:
        import sentry_sdk
    except ImportError:  # pragma: no cover - sentry-sdk is in requirements.lock
        sentry_sdk = None
    if sentry_sdk is not None:
        sentry_sdk.init(
            dsn=SENTRY_DSN,
            environment=env("SENTRY_ENVIRONMENT", default="production"),
            traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
            send_default_pii=False,
        )

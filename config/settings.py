"""Settings, read from the environment.

Two modes, chosen by ``DJANGO_MODE``:

- ``development`` (the default): SQLite in ``var/`` unless ``DATABASE_URL`` is
  set, tasks run eagerly unless ``CELERY_BROKER_URL`` is set, e-mail printed to
  the console, DEBUG on. This is what the demo command runs.
- ``production``: DEBUG off, ``SECRET_KEY`` and ``ALLOWED_HOSTS`` required from
  the environment, HTTPS-only cookies, HSTS and the rest of Django's deployment
  checklist, so ``manage.py check --deploy`` reports nothing.
"""

import base64
import hashlib
from pathlib import Path

import environ

from . import beat

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

MODE = env.str("DJANGO_MODE", default="development")
if MODE not in {"development", "production"}:
    raise environ.ImproperlyConfigured("DJANGO_MODE must be 'development' or 'production'.")
PRODUCTION = MODE == "production"

if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    # A fixed development key: the demo needs no set-up, and nothing in
    # development mode is reachable from outside 127.0.0.1.
    SECRET_KEY = env.str(
        "SECRET_KEY", default="dev-only-key-0vJ2rX7pQ9mL4sT8wZ1yB6nC3fH5kD0gA2eR7uI9oP4"
    )
    DEBUG = env.bool("DEBUG", default=True)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Personal data encrypted at rest (accounts.fields.EncryptedCharField): Fernet
# keys, comma-separated, the first one encrypting, all decrypting (rotation:
# docs/encryption.md). Required in production; development derives one from
# SECRET_KEY so the demo needs no set-up.
if PRODUCTION:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
else:
    FIELD_ENCRYPTION_KEYS = env.list(
        "FIELD_ENCRYPTION_KEYS",
        default=[
            base64.urlsafe_b64encode(
                hashlib.sha256(b"field-encryption:" + SECRET_KEY.encode()).digest()
            ).decode()
        ],
    )

INSTALLED_APPS = [
    "common.apps.CommonConfig",
    "accounts.apps.AccountsConfig",
    "eligibility.apps.EligibilityConfig",
    "programs.apps.ProgramsConfig",
    "vouchers.apps.VouchersConfig",
    "applications.apps.ApplicationsConfig",
    "platforms.apps.PlatformsConfig",
    "settlements.apps.SettlementsConfig",
    "audit.apps.AuditConfig",
    "notices.apps.NoticesConfig",
    "oversight.apps.OversightConfig",
    "demo.apps.DemoConfig",
    "config.apps.ComputeVoucherAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "pgtrigger",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outermost of ours, so it sees every view's download as finally sent.
    "accounts.middleware.PrivateDownloadsNotStoredMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.OfficialSessionTimeoutMiddleware",
    "accounts.middleware.OfficialMFARequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.membership",
                "notices.context_processors.unread_notifications",
            ],
            # The amount filters' library by the names templates have always
            # loaded it under (it lived in vouchers as voucher_tags and money).
            "libraries": {
                "voucher_tags": "common.templatetags.formatting",
                "money": "common.templatetags.formatting",
            },
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_SERVER_SIDE_BINDING", default=True
):
    # Server-side parameters, so psycopg prepares a statement on a connection
    # after its 5th execution and PostgreSQL stops planning it again: the
    # statements of a charge cost 0.9-1.1 instead of 2.0 ms of server CPU
    # (bench/api.py's replay). Prepared statements live on a connection, so
    # this pays with CONN_MAX_AGE > 0. Turn it off behind a pooler that does
    # not keep prepared statements (PgBouncer before 1.21 in transaction
    # mode). pgtrigger.ignore does not work with it: audit.triggers does.
    # Beyond the protocol's 65,535 parameters a query is bound client-side.
    from common.db_cursor import PreparingCursor

    # Django turns psycopg's prepared statements off unless asked (for
    # poolers); 5 is psycopg's own threshold.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, cursor_factory=PreparingCursor, prepare_threshold=5
    )
# An optional read replica for the dashboard, reports, exports and settlement
# statements, and only for them: they opt in with config.db_router.reporting_reads.
# Without DATABASE_REPLICA_URL there is no second database and no router.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = DATABASES["default"]["CONN_HEALTH_CHECKS"]
    for option in ("server_side_binding", "cursor_factory", "prepare_threshold"):
        if option in DATABASES["default"].get("OPTIONS", {}):
            DATABASES["replica"].setdefault("OPTIONS", {})[option] = DATABASES["default"][
                "OPTIONS"
            ][option]
    # Tests run against one database, and the replica alias reads that one.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.db_router.ReportingReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (allauth's rate limits live here) ------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Users and authentication --------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: the one that authenticates (and that force_login picks).
    "allauth.account.auth_backends.AuthenticationBackend",
    # Grants model permissions from membership roles; authenticates no one.
    "accounts.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal"
LOGOUT_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Officials' sessions end after this much inactivity, and after this long in
# any case (enterprise users keep Django's default two-week session).
OFFICIAL_SESSION_IDLE_SECONDS = env.int("OFFICIAL_SESSION_IDLE_SECONDS", default=30 * 60)
OFFICIAL_SESSION_ABSOLUTE_SECONDS = env.int("OFFICIAL_SESSION_ABSOLUTE_SECONDS", default=12 * 3600)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Compute Vouchers")

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Django's Chinese formats group no digits; ours group by commas wherever a
# template asks for grouping (floatformat:"2g", intcomma). USE_THOUSAND_SEPARATOR
# stays off: it would also turn ids written into links into "1,234".
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static files and uploads --------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development WhiteNoise serves straight from the app and project folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Uploaded documents live outside the web root and are served only through
# views that check who is asking.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- E-mail ---------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@compute-vouchers.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The site's address as its users reach it, for links in e-mails sent without
# a request (a new voucher's certificate). Unless set: in production the first
# ALLOWED_HOSTS name over HTTPS, in development the demo's address (PORT).
_FIRST_HOST = next((h.lstrip(".") for h in ALLOWED_HOSTS if h.strip(".*")), "localhost")
SITE_URL = env.str(
    "SITE_URL",
    default=(
        f"https://{_FIRST_HOST}"
        if PRODUCTION
        else f"http://127.0.0.1:{env.str('PORT', default='8000')}"
    ),
).rstrip("/")

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# With no broker the demo still works: every task runs in-process, at once.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every periodic task (config/beat.py), written into django-celery-beat by
# ``manage.py setup_periodic_tasks``.
PERIODIC_TASKS = beat.PERIODIC_TASKS
CELERY_RESULT_BACKEND = None

# --- Audit log (see docs/audit.md) ---------------------------------------
# "sha256", or "sm3" where commercial cryptography (GB/T 32905) is required.
AUDIT_HASH_ALGORITHM = env.str("AUDIT_HASH_ALGORITHM", default="sha256")
# Ed25519 private key (PEM text or a file path) that signs checkpoints; in
# development a key is generated once into var/ when this is empty.
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
AUDIT_TRUSTED_PUBLIC_KEYS = env.list("AUDIT_TRUSTED_PUBLIC_KEYS", default=[])
AUDIT_SEAL_AFTER_COMMIT = env.bool("AUDIT_SEAL_AFTER_COMMIT", default=True)
AUDIT_SEAL_DELAY_SECONDS = env.int("AUDIT_SEAL_DELAY_SECONDS", default=2)
AUDIT_SEAL_LOOKBACK = env.int("AUDIT_SEAL_LOOKBACK", default=20_000)
# The Cybersecurity Law asks for at least six months of logs.
AUDIT_RETENTION_DAYS = max(180, env.int("AUDIT_RETENTION_DAYS", default=180))

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
# Requests per signing key of the platform API ("6000/minute"; empty = no limit).
# Counted in the default cache: configure a shared one (Redis, CACHE_URL) when
# several processes serve the API. Nonces of signed requests go to a Redis
# cache when the default cache is Redis, else to the database.
PLATFORM_API_RATE_LIMIT = env.str("PLATFORM_API_RATE_LIMIT", default="6000/minute")
# The window of a signed API request (platform-api.md: 300 s and 30 s): a
# signature is accepted while its `created` is at most MAX_AGE seconds old and
# at most MAX_FUTURE seconds ahead, and its nonce is refused again for as long
# (platforms/signatures.py, nonce_kept_until). Shorten them, never lengthen
# them beyond the contract.
PLATFORM_SIGNATURE_MAX_AGE = env.int("PLATFORM_SIGNATURE_MAX_AGE", default=300)
PLATFORM_SIGNATURE_MAX_FUTURE = env.int("PLATFORM_SIGNATURE_MAX_FUTURE", default=30)
if PLATFORM_SIGNATURE_MAX_AGE <= 0 or PLATFORM_SIGNATURE_MAX_FUTURE < 0:
    raise environ.ImproperlyConfigured(
        "PLATFORM_SIGNATURE_MAX_AGE must be positive and PLATFORM_SIGNATURE_MAX_FUTURE not negative."
    )
SPECTACULAR_SETTINGS = {
    "TITLE": "Compute-voucher platform API",
    "VERSION": "1.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # OpenAPI links between operations (hold -> capture / release, ...).
        "platforms.schema_links.add_operation_links",
    ],
}

# --- Security -------------------------------------------------------------
# Content-Security-Policy: everything is self-hosted and no page carries an
# inline script or style; QR codes (TOTP set-up, certificates) are data: URIs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
# A form refused for its CSRF token gets the site's page (JSON under /api/).
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Behind a TLS-terminating proxy (nginx), the proxy says which scheme and host
# the client used; the request-signature check relies on both being right.
# How many proxies of ours stand in front of the app, each appending the
# address it saw to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for): the
# client's address is that many entries from the right (config/client_ip.py).
# 0 trusts no X-Forwarded-For at all; the shipped nginx deployment sets 1.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise environ.ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
if env.bool("BEHIND_TLS_PROXY", default=PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

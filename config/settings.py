"""Settings, read from the environment (see README "Configuration")."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    # A key generated once and kept in the data folder, so a fresh clone runs without setup while
    # sessions survive restarts. Production sets SECRET_KEY explicitly.
    path = DATA_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "ninja",
    "core",
    "directory",
    "coaching",
    "notifications",
    "qa",
    "demo",
    "tokens",
    "axes",
]

MIDDLEWARE = [
    # First: an over-long URL or body is refused before anything reads it.
    "core.middleware.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.UserTimezoneMiddleware",
    "core.middleware.ApplicationErrorMiddleware",
    "core.middleware.HtmxLoginRedirectMiddleware",
    # Last, so it sees the answer of a refused sign-in and turns it into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "directory.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "django.template.context_processors.csp",
                "core.context_processors.header",
            ],
            # Time filters that cannot fail a page (core/templatetags/times.py).
            "builtins": ["core.templatetags.times"],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=0,
    )
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on the busy timeout instead of failing with "database is locked" mid-way.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not memory) so live-server browser tests and worker subprocesses share it.
    _db["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or str(DATA_DIR / "test.sqlite3")}
    # The evaluations' window index carries the score for PostgreSQL's index-only scans; SQLite
    # builds it without that column, which is all it needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["OPTIONS"] = {
        "pool": {
            "min_size": int(os.environ.get("DB_POOL_MIN", "1")),
            "max_size": int(os.environ.get("DB_POOL_MAX", "10")),
            # How long a request waits for a connection before it answers 503.
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
        },
        # Parameters bound by the server, so psycopg prepares a statement the fifth time a
        # connection runs it and PostgreSQL stops re-planning the lists' joins on every request
        # (planning was 40% of their database time). DB_SERVER_SIDE_BINDING=0 turns it off.
        "server_side_binding": os.environ.get("DB_SERVER_SIDE_BINDING", "1") != "0",
        "prepare_threshold": int(os.environ.get("DB_PREPARE_THRESHOLD", "5")) or None,
    }
    # Prepared statements reuse one plan for every value (core/plans.py says why; text
    # searches opt out). DB_PLAN_CACHE_MODE=auto leaves the choice to PostgreSQL.
    DB_PLAN_CACHE_MODE = os.environ.get("DB_PLAN_CACHE_MODE", "force_generic_plan")
    if DB_PLAN_CACHE_MODE not in ("auto", "force_generic_plan", "force_custom_plan"):
        raise ImproperlyConfigured(
            "DB_PLAN_CACHE_MODE must be auto, force_generic_plan or force_custom_plan, "
            f"not {DB_PLAN_CACHE_MODE!r}"
        )
    _db["OPTIONS"]["options"] = f"-c plan_cache_mode={DB_PLAN_CACHE_MODE}"
    if test_name := os.environ.get("TEST_DATABASE_NAME"):
        _db["TEST"] = {"NAME": test_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Tasks (background worker: `manage.py db_worker`) ------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Auth -------------------------------------------------------------------------------------
# django-axes stops online password guessing on the login page and POST /api/v1/auth/token: after
# LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one client address, that account or
# address is refused for LOGIN_LOCKOUT_MINUTES after its last failure. The counters are rows in the
# database, so every web process sees the same ones; a successful sign-in clears those of its
# account and address (an office behind one address is not locked out by a few typos).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.lockout.client_ip"
AXES_VERBOSE = False
# Masked in the form data axes keeps of a failed attempt (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
# Behind a reverse proxy the client's address is read from the header the proxies append to, one
# hop per trusted proxy from the right (what a client writes there itself is never trusted).
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "X-Forwarded-For")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- I18n / time ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start while it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("TESTING", False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- E-mail -----------------------------------------------------------------------------------
# With EMAIL_HOST set, mail goes out over SMTP; otherwise each message is written to a file in
# data/outbox so the demo shows what would have been sent. EMAIL_BACKEND overrides both.
_email_host = os.environ.get("EMAIL_HOST", "")
if _email_host:
    _mail_backend = "notifications.notice_mail.EmailBackend"
    _mail_options: dict[str, object] = {
        "host": _email_host,
        "port": int(os.environ.get("EMAIL_PORT", "25")),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "use_ssl": env_bool("EMAIL_USE_SSL", False),
        "timeout": int(os.environ.get("EMAIL_TIMEOUT", "30")),
    }
else:
    _mail_backend = "django.core.mail.backends.filebased.EmailBackend"
    _mail_options = {"file_path": os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "outbox"))}
if os.environ.get("EMAIL_BACKEND"):
    _mail_backend, _mail_options = os.environ["EMAIL_BACKEND"], {}
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Coaching <coaching@localhost>")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Security ---------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read with one plain statement (`core.sessions`).
SESSION_ENGINE = "core.sessions"
# SECURE_COOKIES=1 says "this site is served over HTTPS": cookies go over HTTPS only, plain HTTP is
# redirected to HTTPS and browsers are told (HSTS) to use nothing else for a year.
HTTPS = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# Behind a proxy that ends TLS: the header it sets to "https" (e.g. X-Forwarded-Proto), so the
# redirect above does not loop. Only set it when the proxy always sets (or strips) that header.
if _proto_header := os.environ.get("SECURE_PROXY_SSL_HEADER", ""):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proto_header.upper().replace("-", "_"), "https")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Product settings -------------------------------------------------------------------------
# How far ahead an Expiry Time may be set, and its default, in calendar months.
COACHING_MAX_EXPIRY_MONTHS = int(os.environ.get("COACHING_MAX_EXPIRY_MONTHS", "12"))
COACHING_DEFAULT_EXPIRY_MONTHS = int(os.environ.get("COACHING_DEFAULT_EXPIRY_MONTHS", "3"))
# E-mail delivery: attempts before a notification's e-mail is given up, and the first back-off.
EMAIL_MAX_ATTEMPTS = int(os.environ.get("EMAIL_MAX_ATTEMPTS", "8"))
EMAIL_RETRY_BASE_SECONDS = int(os.environ.get("EMAIL_RETRY_BASE_SECONDS", "30"))
# A delivery claimed this long ago and never finished is marked "uncertain", never resent.
EMAIL_CLAIM_TIMEOUT_SECONDS = int(os.environ.get("EMAIL_CLAIM_TIMEOUT_SECONDS", "600"))
# A batch of e-mails whose worker stops mid-way is finished by a rescue task this much later.
EMAIL_BATCH_RESCUE_SECONDS = int(os.environ.get("EMAIL_BATCH_RESCUE_SECONDS", "60"))
# Connections to the mail server a worker sends a large batch over at once (one thread and one
# database connection each), and the e-mails each one needs before another is opened.
EMAIL_CONNECTIONS = max(1, int(os.environ.get("EMAIL_CONNECTIONS", "4")))
EMAIL_CONNECTIONS_MIN_BATCH = max(1, int(os.environ.get("EMAIL_CONNECTIONS_MIN_BATCH", "25")))
API_TOKEN_TTL_DAYS = int(os.environ.get("API_TOKEN_TTL_DAYS", "30"))
# Input limits: a request body above DATA_UPLOAD_MAX_MEMORY_SIZE answers 413, a query string
# above MAX_QUERY_STRING_BYTES answers 414 (both problem+json under /api/), before any reading.
DATA_UPLOAD_MAX_MEMORY_SIZE = (
    2_621_440  # 2.5 MiB (Django's default, stated because it is a limit we document)
)
MAX_QUERY_STRING_BYTES = 4096
# Times a person may store: how far ahead a session may be scheduled (calendar months).
COACHING_MAX_SCHEDULE_MONTHS = int(os.environ.get("COACHING_MAX_SCHEDULE_MONTHS", "24"))
# Reminders: coach and trainees this long before a scheduled session starts; the coach this long
# before an open suggestion expires. 0 turns a reminder off.
COACHING_REMINDER_BEFORE_START_MINUTES = int(
    os.environ.get("COACHING_REMINDER_BEFORE_START_MINUTES", str(24 * 60))
)
COACHING_REMINDER_BEFORE_EXPIRY_MINUTES = int(
    os.environ.get("COACHING_REMINDER_BEFORE_EXPIRY_MINUTES", str(7 * 24 * 60))
)
# The sweep sends a due reminder itself once its task is this late (lost, or no worker running).
COACHING_REMINDER_SWEEP_GRACE_SECONDS = int(
    os.environ.get("COACHING_REMINDER_SWEEP_GRACE_SECONDS", "120")
)
# The effect of coaching: how many evaluations each side of a completed session counts
# (decisions.md: the last N before its start, the first N after it was completed).
QA_EFFECT_WINDOW = int(os.environ.get("QA_EFFECT_WINDOW", "5"))
# The report's baseline reads at most this many un-coached agents per coaching area (beyond it,
# a fixed hash-picked subset: docs/effect.md).
QA_EFFECT_BASELINE_AGENTS = int(os.environ.get("QA_EFFECT_BASELINE_AGENTS", "2000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise at INFO; failures still show.
        "django.tasks": {"level": os.environ.get("TASK_LOG_LEVEL", "WARNING")},
        # Each failed sign-in and each lockout is a warning; the rest of its chatter is not.
        "axes": {"level": "WARNING"},
    },
}

# Every list statement compiled once per shape is compared with a fresh build (`core.shapes`).
SHAPES_VERIFY = env_bool("SHAPES_VERIFY", env_bool("TESTING", False))
# Every answer written straight from JSON-ready data is compared with its schema's own rendering
# (`config.api_common.answer_json`).
ANSWERS_VERIFY = env_bool("ANSWERS_VERIFY", env_bool("TESTING", False))

if env_bool("TESTING", False):
    # Demo users are created in many tests; the real hasher's cost is for production logins.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

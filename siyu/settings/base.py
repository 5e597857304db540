"""Settings, read from the environment.

DATABASE_URL      default sqlite:///var/siyu.sqlite3 (WAL mode)
REDIS_URL         optional; when set, the cache (and rate limits) live in Redis
SIYU_SECRET_KEY   required unless SIYU_DEBUG is on
SIYU_DEBUG        "1"/"true" for development
SIYU_ALLOWED_HOSTS comma-separated
"""

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("SIYU_VAR_DIR", BASE_DIR / "var"))


def env_flag(name: str, *, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


TESTING = "pytest" in sys.modules or env_flag("SIYU_TESTING")
DEBUG = env_flag("SIYU_DEBUG")

_INSECURE_DEV_KEY = "siyu-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SIYU_SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SIYU_SECRET_KEY is not set. Production refuses to start without a real secret key; "
            "set SIYU_DEBUG=1 for local development."
        )
    SECRET_KEY = _INSECURE_DEV_KEY
elif len(SECRET_KEY) < 32 and not (DEBUG or TESTING):
    raise ImproperlyConfigured("SIYU_SECRET_KEY must be at least 32 characters long.")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("SIYU_ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG or TESTING:
    ALLOWED_HOSTS += ["127.0.0.1", "localhost", "testserver", "[::1]"]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("SIYU_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # its templates + static files: the API docs page is served locally, no CDN
    "siyu.core",
    "siyu.tenancy",
    "siyu.contacts",
    "siyu.tracking",
    "siyu.segments",
    "siyu.analytics",
    "siyu.api",
    "siyu.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "siyu.web.middleware.NulReplacingMiddleware",
    "siyu.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "siyu.tenancy.middleware.WorkspaceMiddleware",
]

ROOT_URLCONF = "siyu.urls"
ASGI_APPLICATION = "siyu.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "siyu.web.context_processors.workspace",
                "siyu.tracking.context_processors.radar",
            ],
        },
    }
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'siyu.sqlite3'}"
# No persistent connections: under ASGI every request runs in a thread of its own, so a kept
# connection would belong to a thread that never comes back and leak (PostgreSQL then refuses new
# clients). PostgreSQL gets a connection pool instead; SQLite connections are cheap to open.
_database: dict[str, Any] = dict(dj_database_url.parse(DATABASE_URL, conn_max_age=0))
if _database["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _database["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=10000;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA mmap_size=268435456;"
            "PRAGMA cache_size=-65536;"
            "PRAGMA wal_autocheckpoint=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    # The test database is a file, not SQLite's shared in-memory one: with an in-memory database the
    # browser tests' live server runs every request thread on the test's own connection, and two
    # concurrent requests on one connection can deadlock (one waits for the connection inside a query
    # that calls a Python function, the other holds the interpreter while waiting for the connection).
    # One name per test run (xdist workers add their own suffix), so that runs side by side never meet.
    _run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
    _database["TEST"] = {
        "NAME": os.environ.get("SIYU_TEST_SQLITE_NAME")
        or str(Path(tempfile.gettempdir()) / f"siyu-test-{_run}.sqlite3")
    }
else:
    _database.setdefault("OPTIONS", {})
    if not TESTING:  # the test runner's database juggling and a pool do not mix
        _database["OPTIONS"]["pool"] = {
            "min_size": int(os.environ.get("SIYU_DB_POOL_MIN", "2")),
            "max_size": int(os.environ.get("SIYU_DB_POOL_MAX", "10")),
            "timeout": 10,
        }
    # Lets parallel test runs on one server use separate test databases.
    _database["TEST"] = {"NAME": os.environ.get("SIYU_TEST_DB_NAME") or None}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "siyu",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "siyu",
        }
    }

TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if TESTING
            else "django_tasks_db.DatabaseBackend"
        ),
    }
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# Lock an account (per username + IP) after this many failed logins within the window.
SIYU_LOGIN_MAX_FAILURES = int(os.environ.get("SIYU_LOGIN_MAX_FAILURES", "5"))
SIYU_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("SIYU_LOGIN_LOCKOUT_SECONDS", "900"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 7
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SESSION_COOKIE_SECURE = env_flag("SIYU_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "siyu" / "locale"]
TIME_ZONE = os.environ.get("SIYU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
MEDIA_ROOT = VAR_DIR / "media"

# Upload limits: imports refuse anything larger before parsing it.
SIYU_IMPORT_MAX_BYTES = 50 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The default region for phone numbers written without a country code.
SIYU_PHONE_REGION = os.environ.get("SIYU_PHONE_REGION", "CN")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SIYU_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

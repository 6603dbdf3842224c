"""One settings module, driven by environment variables with embedded defaults.

With no variables set the service runs on a bare machine: SQLite, a local folder as object
store, an X25519 key pair under VAULT_DATA_DIR and a Celery broker that needs no server.
Production sets DATABASE_URL, CELERY_BROKER_URL, S3_* and KMS_KEY_ID or AGE_RECIPIENTS.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from ops.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

VAULT_DATA_DIR = Path(env.str("VAULT_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

# Every file this process creates is its owner's alone (0600, folders 0700): the SQLite database
# and its -wal/-shm (which SQLite creates with the database file's mode), the broker's messages,
# the local store's objects, secrets, keys, the beat schedule. Every process `make run` starts
# (manage.py, gunicorn's workers, Celery's worker and beat) loads this module before it creates a
# file, so one umask here covers the files that third-party code (SQLite, kombu, dbm) creates.
os.umask(0o077)
# A data folder made by an older version with 0755 would still let others reach its 0644 files:
# closing the folder closes them all. Only a folder of our own; one made by root for a service
# user is its maker's to set.
if VAULT_DATA_DIR.is_dir() and VAULT_DATA_DIR.stat().st_uid == os.geteuid():
    VAULT_DATA_DIR.chmod(0o700)


def _embedded_secret(name: str) -> str:
    """Read (or create once, mode 0600) a secret file under VAULT_DATA_DIR."""
    path = VAULT_DATA_DIR / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret("django-secret-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # createsuperuser and changepassword with their account changes ledgered: before
    # django.contrib.auth, so these commands win (staff/django_commands).
    "staff.django_commands",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    # TOTP second factor (RFC 6238) and single-use recovery codes for the roles that open
    # recordings; enrolled by their owners only (staff.second_factor). Before staff: staff.admin
    # takes their admins away (no page shows a device's secret).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The vault's apps, lowest layer first (the import-linter contract in .importlinter).
    "core",
    "audit",
    "staff",
    "recorder",
    "forwarding",
    "retention",
    "auditor",
    "complaints",
    "notifications",
    "django_prometheus",
    "ops",
    "privacy",
]

MIDDLEWARE = [
    # First: request metrics (django-prometheus), the request id every log line carries, and the
    # load balancer's probes, answered before host checks, HTTPS redirects and sessions.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "ops.middleware.RequestIdMiddleware",
    "ops.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (django-csp); policy below, "Security".
    "core.csp.CSPMiddleware",
    # The staff pages' stylesheet, served by the web process itself (no separate file server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language: the switch's cookie, else the browser's Accept-Language (German or
    # English); after sessions, before CommonMiddleware, as Django asks.
    "django.middleware.locale.LocaleMiddleware",
    # Staff pages read and show times in DISPLAY_TIME_ZONE (form inputs included); the API and
    # the ledger stay in UTC.
    "core.timezones.DisplayTimeZoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in user is the actor the database's account triggers name (staff.account_changes).
    "staff.account_changes.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # An empty 405 (a form's address opened with GET) becomes a page, or JSON for the API.
    "core.errors.MethodNotAllowedPage",
    # Last, as django-axes asks: it answers a locked-out sign-in before any view runs.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "staff.context_processors.role",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAULT_DATA_DIR / 'vault.sqlite3'}"),
}
# Persistent connections: a new PostgreSQL connection per request costs milliseconds (a backend
# forked, authenticated), which a playback's time to first byte would pay each time. The health
# check at reuse replaces a connection a restart or failover killed, before the request uses it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DB_PREPARED_STATEMENTS", default=True
):
    # Parameters bound by the server, and a statement a connection runs a fifth time prepared
    # (psycopg's prepare_threshold): PostgreSQL then skips parsing and planning it. A playback's
    # grant check took 0.75-0.88 ms re-planned each time, 0.28-0.30 ms prepared. Turn off behind
    # a PgBouncer in transaction mode that does not keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # secure_delete: SQLite overwrites deleted content (a freed cell, a free page) with
            # zeros, so a pseudonymised reference or a shredded header does not survive in the
            # file's free space (https://sqlite.org/pragma.html#pragma_secure_delete). The old
            # copies in the -wal are removed by a checkpoint after each purge (recorder.shredding).
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA secure_delete=ON;",
        }
    )
    # A file, not memory, so tests can share the test database with a server process they start.
    DATABASES["default"]["TEST"] = {"NAME": str(VAULT_DATA_DIR / "test-vault.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff pages, forms, e-mails and the JSON error `detail` in English and German (gettext; the
# catalogue is committed compiled, so `make run` needs no gettext tool). The API's data and the
# ledger stay in English and UTC; pages show times in DISPLAY_TIME_ZONE with the zone named.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
DISPLAY_TIME_ZONE = env.str("DISPLAY_TIME_ZONE", default="Europe/Berlin")
# Refused at start, naming the variable: a misspelt zone would otherwise surface as a 500 on the
# first page that shows a time (core.timezones activates it for every staff page).
try:
    ZoneInfo(DISPLAY_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"DISPLAY_TIME_ZONE must name an IANA time zone such as Europe/Berlin, not {DISPLAY_TIME_ZONE!r}"
    ) from None
USE_I18N = True
USE_TZ = True
# Django's own English formats are American ("12/05/2026 10:15 a.m."): month and day are easily
# swapped by a reader in Germany, and a.m./p.m. is not how a German telecom's staff read a clock.
# English pages use unambiguous ISO dates and a 24-hour clock instead (config/formats/en); German
# keeps Django's "05.12.2026 10:15".
FORMAT_MODULE_PATH = ["config.formats"]
# The language switch's choice (Django's language cookie) is kept a year, sent like the other
# cookies: Secure where the session cookie is, never to other sites' requests, and not readable
# by scripts (nothing on the pages reads it).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True

STATIC_URL = "static/"
STATIC_ROOT = VAULT_DATA_DIR / "static"
# Serve straight from the app folders: a handful of files, and no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
# Django's file storage (collectstatic's copies) sets these modes itself, whatever the umask:
# its default, 0644, would be the one file of VAULT_DATA_DIR others may read.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Staff sign-in ------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it counts failed sign-ins and refuses a sign-in once a failure limit
    # below is reached within AXES_COOLOFF_TIME, before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend with the per-request user lookup prebuilt (staff/backend.py).
    "staff.backend.StaffModelBackend",
]


def _at_least_one(name: str, default: int) -> int:
    """A sign-in throttle number from the environment, refused at start below 1: axes pauses at
    `failures >= limit`, so a limit of 0 pauses every sign-in, and a cool-off of 0 none."""
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be at least 1, not {value}")
    return value


# Three limits within the cool-off: one user name from one address (typos; a guess at one
# account); any user names from one address (password spraying), higher, so that a few typos
# each from an office behind one NAT address pause nobody; one user name from any addresses (a
# guess spread over many), also higher. The wider two are staff.signin_throttle's.
AXES_HANDLER = "staff.signin_throttle.SignInThrottle"
AXES_FAILURE_LIMIT = _at_least_one("SIGNIN_FAILURE_LIMIT", default=5)
SIGNIN_ADDRESS_FAILURE_LIMIT = _at_least_one("SIGNIN_ADDRESS_FAILURE_LIMIT", default=20)
SIGNIN_USERNAME_FAILURE_LIMIT = _at_least_one("SIGNIN_USERNAME_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=_at_least_one("SIGNIN_LOCKOUT_MINUTES", default=15))
# Successful sign-ins (axes' access log: user name, address, browser) are kept this many days: an
# address a user signed in from within them is not paused by the per-name limit. Then deleted.
SIGNIN_LOG_DAYS = _at_least_one("SIGNIN_LOG_DAYS", default=90)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address is the client's, not the load balancer's (core/clients.py): behind one, every
# sign-in would otherwise share its address, and failures of one person lock out everyone.
AXES_CLIENT_IP_CALLABLE = "core.clients.throttled_address"  # an IPv6 client by its /64
# How many proxies of ours stand in front of gunicorn and append to X-Forwarded-For (a TLS load
# balancer: 1). 0: the socket's address is the client's, and X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# A success deletes the attempts of its own user name from its own address only (they are keyed
# by AXES_LOCKOUT_PARAMETERS); the other rows, which the wider limits also count, stay.
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The page above for people, the service's JSON error for scripts, with Retry-After.
AXES_LOCKOUT_CALLABLE = "staff.signin_throttle.lockout_response"
# Staff sessions end with the browser and after SESSION_COOKIE_AGE at the latest. They are kept
# in the database by Django's own store, with its per-request lookup prebuilt (staff/sessions.py).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ENGINE = "staff.sessions"

# Recording bodies are read straight from the request stream by the ingest service. Should any
# form ever carry a file, it stays in memory: no upload handler may spool plaintext to disk.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

# --- Security (production values come from the environment; see README) -----------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): everything from this origin only, no inline code. The one
# inline script (the player's) carries the per-response nonce, `request.csp_nonce`. No frames in
# either direction, no plugins, forms post only here. Video, images and fonts come from 'self';
# `data:` is for the empty favicon. The JSON API gets the same header: it costs nothing there.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "media-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "frame-src": [NONE],
        "object-src": [NONE],
        "base-uri": [NONE],
    },
}
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "core.pagination.LimitOffsetPages",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Session-recording vault API",
    "DESCRIPTION": "Consent-gated ingest of remote-support recordings, sealed (age v1) on arrival.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",  # drf-spectacular's default, kept
        "core.schema.document_every_other_error",
    ],
}

# --- Recordings: storage, sealing, retention ------------------------------------------------
# Object store: "local" (a folder) or "s3".
OBJECT_STORE = env.str("OBJECT_STORE", default="s3" if env.str("S3_BUCKET", default="") else "local")
LOCAL_STORE_DIR = Path(env.str("LOCAL_STORE_DIR", default=str(VAULT_DATA_DIR / "objects")))
S3_BUCKET = env.str("S3_BUCKET", default="")
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="") or None
S3_REGION = env.str("S3_REGION", default=env.str("AWS_DEFAULT_REGION", default="us-east-1"))
S3_PART_SIZE = env.int("S3_PART_SIZE", default=8 * 1024 * 1024)
# GOVERNANCE or COMPLIANCE: retain each payload until its expires_at (bucket with Object Lock).
S3_OBJECT_LOCK_MODE = env.str("S3_OBJECT_LOCK_MODE", default="")

# Age recipients used by ingest: public keys only. AGE_RECIPIENTS is a comma-separated list of
# age1... strings; AGE_RECIPIENTS_FILE a file of them, one a line. KMS_KEY_ID adds an aws-kms
# stanza. With none of them set, the embedded key pair under VAULT_DATA_DIR/keys is used.
AGE_RECIPIENTS = env.list("AGE_RECIPIENTS", default=[])
EMBEDDED_KEY_DIR = VAULT_DATA_DIR / "keys"
AGE_RECIPIENTS_FILE = env.str("AGE_RECIPIENTS_FILE", default="") or (
    str(EMBEDDED_KEY_DIR / "age-recipients.txt")
    if not AGE_RECIPIENTS and not env.str("KMS_KEY_ID", default="")
    else ""
)
# The identity (private key) is configuration of the playback path only; ingest never reads it.
AGE_IDENTITY_FILE = env.str("AGE_IDENTITY_FILE", default=str(EMBEDDED_KEY_DIR / "age-identity.txt"))
KMS_KEY_ID = env.str("KMS_KEY_ID", default="")
KMS_ENDPOINT_URL = env.str("KMS_ENDPOINT_URL", default="") or None
KMS_REGION = env.str("KMS_REGION", default=S3_REGION)

RECORDING_MAX_BYTES = env.int("RECORDING_MAX_BYTES", default=8 * 1024**3)
RECORDING_RETENTION = env.str("RECORDING_RETENTION", default="P3M")
# A `receiving` upload with no progress for this long is abandoned: the reconciler removes it.
UPLOAD_STALE_AFTER_SECONDS = env.int("UPLOAD_STALE_AFTER_SECONDS", default=15 * 60)
# A body must arrive within GRACE seconds plus its length at MIN_RATE, or it is refused (408).
UPLOAD_MIN_RATE_BYTES_PER_SECOND = env.int("UPLOAD_MIN_RATE_BYTES_PER_SECOND", default=1024)
UPLOAD_MIN_RATE_GRACE_SECONDS = env.int("UPLOAD_MIN_RATE_GRACE_SECONDS", default=60)
PURGE_EVERY_SECONDS = env.int("PURGE_EVERY_SECONDS", default=15 * 60)
PURGE_BATCH_SIZE = env.int("PURGE_BATCH_SIZE", default=1000)  # one S3 DeleteObjects call
# A purge run that has not finished a batch for this long lost its worker: the next run marks it
# abandoned (its recordings are completed by that next run; see retention.services).
PURGE_RUN_STALE_AFTER_SECONDS = env.int("PURGE_RUN_STALE_AFTER_SECONDS", default=15 * 60)
# --- Audit ledger: signed tree heads ----------------------------------------------------------
# Ed25519 key signing tree heads and export manifests: LEDGER_SIGNING_KEY (base64 of the 32-byte
# seed) or a PEM file (0600), generated on first use only at the embedded default path.
LEDGER_SIGNING_KEY = env.str("LEDGER_SIGNING_KEY", default="")
LEDGER_SIGNING_KEY_FILE = env.str(
    "LEDGER_SIGNING_KEY_FILE", default=str(EMBEDDED_KEY_DIR / "ledger-signing-key.pem")
)
LEDGER_HEAD_EVERY_SECONDS = env.int("LEDGER_HEAD_EVERY_SECONDS", default=60 * 60)
# The origin line of the ledger's checkpoints (C2SP tlog-checkpoint), also the signed note's key
# name: a schema-less URL naming this log, e.g. "vault.example.com/audit-ledger". Empty: the
# ledger's own "vault-ledger/<first 16 hex digits of the signing key id>", unique to the key.
LEDGER_ORIGIN = env.str("LEDGER_ORIGIN", default="")
# A token (Authorization: Bearer ...) that reads the checkpoint, tiles and proofs, for monitoring
# the ledger without a staff account; empty: auditors only.
LEDGER_READ_TOKEN = env.str("LEDGER_READ_TOKEN", default="")
# How long an approved access grant lasts: ISO 8601 (PT72H, P3D) or a number of hours.
ACCESS_WINDOW = env.str("ACCESS_WINDOW", default="PT72H")
ACCESS_EXPIRY_EVERY_SECONDS = env.int("ACCESS_EXPIRY_EVERY_SECONDS", default=60)
# How long a closed complaint case keeps its customer reference and free texts (the telecom's
# record of how it answered a complaint), ISO 8601; then they are redacted (complaints.redaction).
CASE_RETENTION = env.str("CASE_RETENTION", default="P1Y")
# Keyed fingerprints (idempotent re-upload) and pseudonyms use keys derived from this secret.
VAULT_HASH_KEY = env.str("VAULT_HASH_KEY", default="") or _embedded_secret("vault-hash-key")

# --- Audit ledger: forwarding to a SIEM (forwarding/, `manage.py forward_ledger`) ----------------
# Comma-separated destinations; none set: the forwarder process idles.
LEDGER_SYSLOG_URL = env.list("LEDGER_SYSLOG_URL", default=[])  # tcp://host:514, tls://host:6514
LEDGER_SYSLOG_CA_FILE = env.str("LEDGER_SYSLOG_CA_FILE", default="")  # empty: the system's trust store
LEDGER_SYSLOG_HOSTNAME = env.str("LEDGER_SYSLOG_HOSTNAME", default="") or socket.gethostname()
LEDGER_SYSLOG_SD_ID = env.str("LEDGER_SYSLOG_SD_ID", default="entry@32473")  # RFC 5424 7.2.2
LEDGER_WEBHOOK_URL = env.list("LEDGER_WEBHOOK_URL", default=[])  # https:// only
LEDGER_WEBHOOK_SECRET = env.str("LEDGER_WEBHOOK_SECRET", default="")
LEDGER_WEBHOOK_SECRET_FILE = env.str("LEDGER_WEBHOOK_SECRET_FILE", default="")
LEDGER_WEBHOOK_CA_FILE = env.str("LEDGER_WEBHOOK_CA_FILE", default="")
LEDGER_FORWARD_BATCH_SIZE = env.int("LEDGER_FORWARD_BATCH_SIZE", default=500)
LEDGER_FORWARD_POLL_SECONDS = env.float("LEDGER_FORWARD_POLL_SECONDS", default=1.0)
LEDGER_FORWARD_BACKOFF_INITIAL_SECONDS = env.float("LEDGER_FORWARD_BACKOFF_INITIAL_SECONDS", default=1.0)
LEDGER_FORWARD_BACKOFF_MAX_SECONDS = env.float("LEDGER_FORWARD_BACKOFF_MAX_SECONDS", default=300.0)
LEDGER_FORWARD_TIMEOUT_SECONDS = env.float("LEDGER_FORWARD_TIMEOUT_SECONDS", default=30.0)

# --- Notifications by e-mail (notifications/) ---------------------------------------------------
# EMAIL_URL: smtp://user:password@host:587 (STARTTLS: smtp+tls://, implicit TLS: smtp+ssl://);
# parsed by django-environ. The embedded default prints each message on the worker's console.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # seconds; a hung SMTP server is an error, retried
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="vault@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The staff pages' base URL, for the links in e-mails (a worker has no request to take it from).
VAULT_PUBLIC_URL = env.str("VAULT_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
NOTIFY_SUBJECT_PREFIX = env.str("NOTIFY_SUBJECT_PREFIX", default="[Vault] ")
# Reminders: a case's officer this many days before its answer date; a grantee this many hours
# before the grant ends; operators once a day while the purge lag exceeds this many seconds.
NOTIFY_ANSWER_DUE_DAYS = env.int("NOTIFY_ANSWER_DUE_DAYS", default=3)
NOTIFY_GRANT_ENDING_HOURS = env.int("NOTIFY_GRANT_ENDING_HOURS", default=24)
NOTIFY_PURGE_LAG_SECONDS = env.int("NOTIFY_PURGE_LAG_SECONDS", default=60 * 60)
NOTIFY_EVERY_SECONDS = env.int("NOTIFY_EVERY_SECONDS", default=5 * 60)  # beat interval of the reminders
# A message's delivery is retried this many times, after NOTIFY_RETRY_BACKOFF_SECONDS doubled each
# time (with jitter, at most 10 minutes), then counted as failed.
NOTIFY_MAX_RETRIES = env.int("NOTIFY_MAX_RETRIES", default=5)
NOTIFY_RETRY_BACKOFF_SECONDS = env.int("NOTIFY_RETRY_BACKOFF_SECONDS", default=30)
# The record of each message (kind, subject id, recipient) is deleted this many days after it was
# made; it must outlive every reminder's window, or a reminder would be sent again.
NOTIFY_RECORD_DAYS = env.int("NOTIFY_RECORD_DAYS", default=90)
if NOTIFY_RECORD_DAYS <= NOTIFY_ANSWER_DUE_DAYS + 1 or NOTIFY_ANSWER_DUE_DAYS < 0:
    raise ImproperlyConfigured(
        "NOTIFY_RECORD_DAYS must exceed NOTIFY_ANSWER_DUE_DAYS + 1 (the answer-date reminder's window), "
        "and NOTIFY_ANSWER_DUE_DAYS must not be negative"
    )

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAULT_DATA_DIR / "celery" / "queue"
    _processed_dir = VAULT_DATA_DIR / "celery" / "processed"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "store_processed": False,
        "control_folder": str(VAULT_DATA_DIR / "celery" / "control"),
    }
    for _folder in (_queue_dir, _processed_dir, VAULT_DATA_DIR / "celery" / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
# A broker outage must not make workers or beat give up: retry the connection forever.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BEAT_SCHEDULE_FILENAME = str(VAULT_DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "purge-expired-recordings": {
        "task": "retention.tasks.purge_expired_recordings",
        "schedule": float(PURGE_EVERY_SECONDS),
    },
    "expire-access-grants": {
        "task": "complaints.tasks.expire_access_grants",
        "schedule": float(ACCESS_EXPIRY_EVERY_SECONDS),
    },
    "redact-closed-cases": {
        "task": "complaints.tasks.redact_closed_cases",
        "schedule": 60 * 60.0,
    },
    "reconcile-abandoned-uploads": {
        "task": "recorder.tasks.reconcile_abandoned_uploads",
        "schedule": float(env.int("RECONCILE_EVERY_SECONDS", default=5 * 60)),
    },
    "sign-ledger-tree-head": {
        "task": "audit.tasks.sign_ledger_tree_head",
        "schedule": float(LEDGER_HEAD_EVERY_SECONDS),
    },
    "send-notification-reminders": {
        "task": "notifications.tasks.send_reminders",
        "schedule": float(NOTIFY_EVERY_SECONDS),
    },
    "forget-old-notifications": {
        "task": "notifications.tasks.forget_old_notifications",
        "schedule": 24 * 60 * 60.0,
    },
    "forget-old-sign-ins": {
        "task": "ops.tasks.forget_old_sign_ins",
        "schedule": 24 * 60 * 60.0,
    },
}

# --- Operations: logs and metrics ---------------------------------------------------------------
# JSON lines with the request id (ops/logs.py); LOG_FORMAT=plain for people reading a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# /metrics answers callers from these addresses, or bearing METRICS_BEARER_TOKEN (if set).
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")

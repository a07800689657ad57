"""One settings file, driven by the environment (see README.md § Configuration).

Default: SQLite file + django-q2 ORM broker + local media — the embedded setup `make demo` uses.
DATABASE_URL switches to PostgreSQL, REDIS_URL switches the django-q2 broker and the cache to Redis,
MEDIA_S3_BUCKET puts the photos on S3-compatible object storage.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# Production-safe by default: DEBUG must be asked for (make demo and the tests do).
DEBUG = env_bool("DEBUG", False)

# Everything the embedded setup writes (SQLite file, media) lives under DATA_DIR.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var"))


def persistent_secret_key(path: Path) -> str:
    """SECRET_KEY from the environment, else a random key made once and kept in DATA_DIR, so
    every manage.py command works out of the box and sessions survive restarts. Several web
    servers must share one key: set SECRET_KEY for them (README § Production)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: of two processes starting at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = os.environ.get("SECRET_KEY") or persistent_secret_key(DATA_DIR / "secret_key")

# Keys the digest that lets an import recognise a household by ID number without storing it.
# Set it once and never change it; required with DEBUG=0 (villages/checks.py), kept apart from
# SECRET_KEY and the data directory. The demo and the tests fall back to SECRET_KEY.
ID_DIGEST_KEY = os.environ.get("ID_DIGEST_KEY", "")
ID_DIGEST_KEY_REQUIRED = not DEBUG

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_q",
    "axes",
    "ninja",  # the API's Swagger UI files, served locally (config/api.py)
    "villages",
    "workflows",
    "inspections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages and JSON gzipped on their way out (villages.middleware): first, so it sees the
    # finished response.
    "villages.middleware.CompressedTextMiddleware",
    # No inline script or style, nothing from other sites (CONTENT_SECURITY_POLICY).
    "villages.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "villages.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Personal data is never cached by a browser or proxy (villages.middleware).
    "villages.middleware.PrivateResponseMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After auth: a user with a one-time password sees the password page until he chose his own.
    "villages.people.middleware.PasswordChangeRequiredMiddleware",
    # A POST sent after the session ended keeps its fields across the login
    # (villages/people/interrupted.py).
    "villages.people.interrupted.InterruptedFormMiddleware",
    # Before any view reads the body (CSRF reads it in process_view, after every __call__).
    "villages.middleware.RequestSizeLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A full disk or database: 507 and a page that says so (villages.middleware).
    "villages.middleware.StorageFullMiddleware",
    # Last: turns a locked-out login attempt into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name from
# one address, that pair is locked for LOGIN_LOCKOUT_MINUTES — a guesser is stopped, and an
# office sharing one address is not locked out by one colleague's typos. A correct login resets
# the count. Failures are rows in the database, so every web process sees them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind nginx every request comes from 127.0.0.1; the client's address is what nginx saw, never
# what the client wrote (villages.http.client_ip): README § Production's nginx block.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
AXES_CLIENT_IP_CALLABLE = "villages.http.client_ip"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "villages.context_processors.scope",
            ],
        },
    },
]

# Django's form renderer, but selects and lists of checkboxes written in Python, not through a
# template per option (core/form_renderer.py: the list pages' filters have hundreds of options).
FORM_RENDERER = "core.form_renderer.FormRenderer"

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Persistent connections: opening a PostgreSQL connection costs ~11 ms on this hardware,
    # more than a typical page's queries. Health checks drop a connection the server closed.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("CONN_MAX_AGE", 600),
            conn_health_checks=True,
        )
    }
    # No JIT: a county's pages run small queries whose estimated cost can still pass the JIT
    # threshold on large tables. Measured on the province benchmark (10M tickets, PostgreSQL
    # 15, 2026-12-06): the header's unread count took 47.9 ms, 47.5 of them compiling its plan;
    # 0.37 ms without JIT, and the county pages 40–130 ms faster. A DATABASE_URL that sets
    # `options` itself (?options=…) keeps its own.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the qcluster writes; IMMEDIATE takes the
                # write lock at BEGIN so two writers queue on the busy timeout instead of one
                # failing with "database is locked" half-way through a transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The rollups' covering indexes (INCLUDE n, inspections/reporting/models.py) are PostgreSQL's;
# SQLite builds them without the included column, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- django-q2 --------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER: dict = {
    "name": os.environ.get("Q_CLUSTER_NAME", "renju"),
    "workers": env_int("Q_WORKERS", 2),
    # A task may run this long; retry must exceed timeout or a slow task runs twice.
    "timeout": 300,
    "retry": 360,
    "max_attempts": 3,
    # A schedule missed while the cluster was down runs once, not once per missed slot: every
    # job takes an as_of date and catches up by itself.
    "catch_up": False,
    "save_limit": 1000,
    "label": "任务队列",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Cache ------------------------------------------------------------------------------------
# Parts of pages (the scan page's, inspections/sites/scan_page.py; the field home's list) and the
# patrol policy, shared by every web process: Redis with REDIS_URL, else files under DATA_DIR.
# Not a memory cache of each process's own: with 4 gunicorn workers each rendered every site's
# parts itself. Measured (bench_scan, 133 sites, PostgreSQL, 2026-12-06): with per-process
# caches 71–74 % of scans missed all three parts (each miss costs the parts' queries and
# templates) and the scan page's p50 was 1.54–1.62× the layout page's; with these files 32–34 %
# (mostly each site's first scan) and 1.22–1.41×. Parts are keyed by the version of the rows
# they show, so no process serves an outdated one; the policy's invalidation reaches every
# process at once.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "renju",  # beside django-q2's keys in the same Redis database
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": DATA_DIR / "cache" / "parts",
            # A county's sites × 3 parts × 2 languages, a few KB each; past it a third go. Each
            # write lists the folder (Django's culling), so not many more.
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

# Documents made from what cannot change (core.pdf.cached_pdf: label sheets keyed by their sites'
# versions, a published round's grade PDF and table): 0.1–3 MB each and seconds of CPU to make
# again, so shared by every process and kept across restarts — Redis with REDIS_URL, else files
# under DATA_DIR (a per-process memory cache would make each worker pay for each sheet and hold
# them all). An entry whose inputs changed is never read again; it ages out or is culled.
DOCUMENT_CACHE_SECONDS = 30 * 24 * 3600
if REDIS_URL:
    CACHES["documents"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "renju-documents",
        "TIMEOUT": DOCUMENT_CACHE_SECONDS,
    }
else:
    CACHES["documents"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": DATA_DIR / "cache" / "documents",
        "TIMEOUT": DOCUMENT_CACHE_SECONDS,
        # ~300 MB at most on disk; past it a third of the entries go (culled at random).
        "OPTIONS": {"MAX_ENTRIES": 300},
    }

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Notices: e-mail and webhook delivery (workflows/notices/services.py, the outbox) --------
# Without EMAIL_HOST, mail goes to the console (the log), so nothing leaves a dev machine.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "renju@localhost")
# A gateway (政务微信, SMS) that takes each notice as a JSON POST; empty = the channel is off.
NOTICE_WEBHOOK_URL = os.environ.get("NOTICE_WEBHOOK_URL", "")
# Seconds to wait for the gateway; a later answer is an unknown outcome, retried with the same key.
NOTICE_WEBHOOK_TIMEOUT = env_int("NOTICE_WEBHOOK_TIMEOUT", 10)

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Separation of duties ---------------------------------------------------------------------
# The person who submitted a rectification (or asked for an extension, or did a toilet job) may
# not decide on it, even when he holds both roles (villages/actions.py). On unless switched off.
SEPARATION_OF_DUTIES = env_bool("SEPARATION_OF_DUTIES", True)

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Development (and the suite, which runs with DEBUG=1 settings) serves static files from the
# source folders; production serves the collected, hashed files from STATIC_ROOT.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG


def media_s3_storage(env) -> dict:
    """The photos' storage on S3 or an S3-compatible server (MinIO, 阿里云 OSS, 腾讯云 COS, 华为云
    OBS) from MEDIA_S3_* in `env` (README § Scaling out), for STORAGES["default"]: a private
    bucket, every photo URL signed and expiring (workflows.evidence.views redirects to it)."""
    from botocore.config import Config  # django-storages[s3]'s boto3, only when asked for

    endpoint = env.get("MEDIA_S3_ENDPOINT_URL", "").strip()
    options = {
        "bucket_name": env["MEDIA_S3_BUCKET"],
        "endpoint_url": endpoint or None,  # None: AWS itself
        "region_name": env.get("MEDIA_S3_REGION", "").strip() or None,
        "querystring_auth": True,  # the bucket is private: a URL without a signature is 403
        "querystring_expire": int(env.get("MEDIA_S3_URL_EXPIRE", "").strip() or 300),
        "default_acl": None,  # the bucket's own (private), never public-read
        # A photo of a household's home must not stay in a shared office PC's cache after
        # logout, as for the app's own answers (villages.middleware.PrivateResponseMiddleware).
        "object_parameters": {"CacheControl": "private, no-store"},
        # Names are random (workflows.evidence.models.copy_upload_to): no HEAD before each PUT
        # to find a free one. Storage's default, stated because the pipeline relies on it.
        "file_overwrite": True,
        # django-storages reads its addressing_style and signature_version options only when it
        # makes this Config itself, so they are set here.
        "client_config": Config(
            s3={"addressing_style": media_s3_addressing_style(env)},
            # Signature V4 (X-Amz-Expires, at most 7 days): what every current server accepts;
            # botocore would otherwise sign these URLs with the legacy V2 (Expires=…).
            signature_version="s3v4",
            # A storage that does not answer fails the request in seconds (503, nothing
            # saved: villages.middleware), not after botocore's default 60 s × 5 attempts.
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    }
    # Without them, boto3's own chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance role.
    if env.get("MEDIA_S3_ACCESS_KEY_ID"):
        options["access_key"] = env["MEDIA_S3_ACCESS_KEY_ID"]
        options["secret_key"] = env.get("MEDIA_S3_SECRET_ACCESS_KEY", "")
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def media_s3_addressing_style(env) -> str:
    """MinIO answers path-style URLs (host/bucket/key) out of the box; OSS and COS want
    virtual-hosted ones (bucket.host/key): MEDIA_S3_ADDRESSING_STYLE=virtual. AWS: botocore's."""
    chosen = env.get("MEDIA_S3_ADDRESSING_STYLE", "").strip()
    return chosen or ("path" if env.get("MEDIA_S3_ENDPOINT_URL", "").strip() else "auto")


def media_s3_origin(env) -> str:
    """Where browsers fetch signed photo URLs from, for the Content-Security-Policy's img-src:
    the endpoint (path-style) or the bucket's host on it (virtual-hosted). "" for AWS itself
    without an endpoint (set CSP_IMG_SOURCES then)."""
    parts = urlsplit(env.get("MEDIA_S3_ENDPOINT_URL", "").strip())
    if not parts.scheme or not parts.netloc:
        return ""
    if media_s3_addressing_style(env) == "virtual":
        return f"{parts.scheme}://{env['MEDIA_S3_BUCKET']}.{parts.netloc}"
    return f"{parts.scheme}://{parts.netloc}"


if os.environ.get("MEDIA_S3_BUCKET"):
    STORAGES["default"] = media_s3_storage(os.environ)
elif os.environ.get("MEDIA_STORAGE_BACKEND"):
    # Any other storage class, configured by its own settings (a dotted path).
    STORAGES["default"] = {"BACKEND": os.environ["MEDIA_STORAGE_BACKEND"]}
# Evidence photos are served behind the login (workflows.evidence.views), never as public media.
# Behind nginx, e.g. "/protected-media/": the app answers with X-Accel-Redirect to that prefix
# and nginx sends the file from an `internal` location (README § Production). Empty: the app
# streams the file itself (embedded setup), or redirects to object storage's signed URL.
MEDIA_ACCEL_REDIRECT = os.environ.get("MEDIA_ACCEL_REDIRECT", "")

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12  # a working day on a shared office computer
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # A monitor may ask the app directly over HTTP (http://127.0.0.1:8001/healthz).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if BEHIND_TLS_PROXY:
        # nginx terminates TLS and sets X-Forwarded-Proto; trust it only when told to.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Domain settings --------------------------------------------------------------------------
# Point → village lookup: a point outside every village boundary falls back to the nearest
# village centre within this distance (villages of the demo county have no boundaries yet).
VILLAGE_LOOKUP_MAX_DISTANCE_M = env_int("VILLAGE_LOOKUP_MAX_DISTANCE_M", 3000)

# Evidence photos: the largest upload accepted, and whether originals (which still carry GPS
# and the rest of their EXIF) are kept besides the metadata-free display copy.
EVIDENCE_MAX_UPLOAD_BYTES = env_int("EVIDENCE_MAX_UPLOAD_MB", 20) * 1024 * 1024
EVIDENCE_KEEP_ORIGINALS = env_bool("EVIDENCE_KEEP_ORIGINALS", False)
# Several photos in one form post: Django's own request limit must not refuse them first.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# The largest request body at all (a form with its photos), refused with 413 from its declared
# length before it is read. Set the web server's limit (nginx client_max_body_size) to match.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_MB", 64) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Toilet service SLA (hours from report to done), by kind of ticket.
TOILET_SLA_HOURS = {
    "pumping": env_int("TOILET_SLA_PUMPING_HOURS", 72),
    "repair": env_int("TOILET_SLA_REPAIR_HOURS", 168),
    "unblocking": env_int("TOILET_SLA_UNBLOCKING_HOURS", 48),
    "other": env_int("TOILET_SLA_OTHER_HOURS", 168),
}

# A town that asks for more time is not escalated (no overdue-ladder notice: 催办, 预警, 拟通报)
# while the county decides, for at most this many days after the request; then the ladder
# goes on as if it had not been asked. Approved: a new deadline, a new ladder.
EXTENSION_HOLD_DAYS = env_int("EXTENSION_HOLD_DAYS", 5)

# Water-site patrols: from this day of the month on, sites still short of valid patrols are
# notified to their towns (漏巡提醒), leaving the rest of the month to catch up.
PATROL_REMINDER_DAY = env_int("PATROL_REMINDER_DAY", 20)
# The address phones in the villages use, printed into every QR label (e.g.
# https://renju.example.gov.cn). Empty: the host the labels are printed from.
SITE_BASE_URL = os.environ.get("SITE_BASE_URL", "").rstrip("/")
# The 抄送 (cc) line at the end of every bulletin: to whom the county copies it, separated
# by "，" as printed. Frozen into a bulletin's text when it is issued.
BULLETIN_CC = os.environ.get(
    "BULLETIN_CC", "县委办公室，县政府办公室，县农村人居环境整治工作领导小组各成员单位"
).strip()

# Map of water sites. Base tiles: "" draws none (county outline and sites on a plain
# background). Tiles of Chinese providers (AMap/Gaode, Tencent) are drawn in GCJ-02: set
# MAP_TILE_GCJ02 so that sites and outline are shifted to match (on the server, villages.geo;
# stored positions stay WGS-84).
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "")
MAP_TILE_GCJ02 = env_bool("MAP_TILE_GCJ02", False)
MAP_TILE_ATTRIBUTION = os.environ.get("MAP_TILE_ATTRIBUTION", "")  # e.g. "© 高德地图"


def tile_source(url: str) -> str:
    """The CSP source of a tile URL template: https://webrd0{s}.is.autonavi.com/… → the host
    with its templated label as a wildcard (https://*.is.autonavi.com)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


# Content-Security-Policy of every page (villages.middleware): everything from this site, no
# inline script or style, no eval, no plugins, no framing. Images also from the map's tile
# server and CSP_IMG_SOURCES (e.g. the object storage that serves signed photo URLs); blob: for
# the preview of a photo about to be uploaded.
CSP_IMG_SOURCES = env_list("CSP_IMG_SOURCES")
if os.environ.get("MEDIA_S3_BUCKET") and media_s3_origin(os.environ):
    CSP_IMG_SOURCES.append(media_s3_origin(os.environ))
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        " ".join(
            ["img-src 'self' data: blob:", tile_source(MAP_TILE_URL), *CSP_IMG_SOURCES]
        ).strip(),
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint narrates every rendering step at INFO; its warnings (a missing image or
        # font) still show.
        "weasyprint.progress": {"level": "WARNING"},
        # django-axes logs every login at INFO; lockouts (WARNING) still show.
        "axes": {"level": "WARNING"},
    },
}

# The JSON API (config/api.py): a personal access token's default rate, requests per minute
# (each token may be given its own, up to API_TOKEN_RATE_MAX); 429 with Retry-After beyond it.
API_TOKEN_RATE_PER_MINUTE = env_int("API_TOKEN_RATE_PER_MINUTE", 120)
API_TOKEN_RATE_MAX = 6000

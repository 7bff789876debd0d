"""Flourish settings: one file, read from the environment.

Development needs nothing set. With DEBUG=false the app refuses to start without a real
SECRET_KEY. DATABASE_URL (postgis://user:pass@host:port/name) picks the database; unset, the
project-local cluster that bin/localdb starts is used (it writes var/database_url).
"""

import glob
import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
# Or from a file only the app's user can read (`make run` generates var/secret_key once).
if _secret_file := env_str("SECRET_KEY_FILE"):
    try:
        SECRET_KEY = Path(_secret_file).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE {_secret_file}: {exc.strerror}") from None
if not DEBUG and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "DEBUG is false but SECRET_KEY is unset or too short: set SECRET_KEY to a random string "
        "of at least 32 characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The site's public address, for links in emails (a referrer's email links to the message in
# Flourish). Unset: https:// and the first of ALLOWED_HOSTS (`make run`'s address in development).
SITE_URL = env_str(
    "SITE_URL", "http://localhost:8000" if DEBUG else f"https://{ALLOWED_HOSTS[0].lstrip('.')}"
).rstrip("/")
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For is believed; empty: the header is ignored
# and REMOTE_ADDR is the client (config/clientip.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES must be comma-separated IP addresses or networks (10.0.0.0/8), "
            f"not {_proxy!r}"
        ) from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "django.forms",  # its widget templates, for the NHS.UK renderer (config/forms.py)
    "rest_framework",
    "knox",  # before referrals, whose admin unregisters knox's token admin
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "axes",
    "django_tasks_db",
    "geo",
    "directory",
    "referrals",
]

MIDDLEWARE = [
    # First, so it times everything and every log line knows its request (config/logs.py).
    "config.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the request: control characters and over-long query values are a
    # 400 here, not a 500 from PostgreSQL later (config/input.py).
    "config.input.HostileInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
    "config.ratelimit.RateLimitMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# --- Database -----------------------------------------------------------------------------
def database_from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in {"postgis", "postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgis:// (PostGIS is Flourish's only database), "
            f"not {parts.scheme}://"
        )
    return {
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": unquote(parts.path.lstrip("/")) or "flourish",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Short connect timeout: /healthz must answer 503 quickly when the database is down.
        "OPTIONS": {
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5),
            # JIT compiles a plan whose estimated cost is high, which a search's one statement
            # (several subqueries) often is: 50-70 ms of compiling for a 5 ms query. Off, as
            # PostgreSQL's own docs advise for short queries. Parallel workers likewise: a
            # search's count started two for 100 rows (3-4 ms each time), and on a small server
            # the cores are better spent on other requests.
            "options": "-c jit=off -c max_parallel_workers_per_gather=0 -c random_page_cost=1.1",
        },
        "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        # TEST_DATABASE_NAME lets two test runs share one server without clashing.
        "TEST": {
            "TEMPLATE": env_str("DATABASE_TEST_TEMPLATE") or None,
            "NAME": env_str("TEST_DATABASE_NAME") or None,
        },
    }


def local_database_url() -> str:
    path = BASE_DIR / "var" / "database_url"
    if path.exists():
        return path.read_text().strip()
    # Not started yet (e.g. `manage.py check` on a fresh clone): the URL bin/localdb will write.
    return "postgis://postgres@127.0.0.1:5432/flourish"


DATABASES = {"default": database_from_url(env_str("DATABASE_URL") or local_database_url())}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Cache (rate limits, single-use form tokens) ------------------------------------------
def cache_from_url(url: str) -> dict:
    """The shared cache every worker sees. Unset: Django's database cache table (made by
    `createcachetable`, which `make prepare` runs). redis:// or rediss:// (Valkey speaks the same
    protocol; valkey:// is accepted too) for a deployment that has one."""
    if not url:
        return {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "flourish_cache",
            # Culling drops entries once the table holds MAX_ENTRIES (expired ones first); set
            # high enough that live rate-limit counts are never culled early.
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 50000)},
        }
    parts = urlsplit(url)
    scheme = {"valkey": "redis", "valkeys": "rediss"}.get(parts.scheme, parts.scheme)
    if scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"CACHE_URL must start with redis://, rediss:// or valkey:// (or be unset for the "
            f"database cache), not {parts.scheme}://"
        )
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": parts._replace(scheme=scheme).geturl(),
    }


CACHES = {"default": cache_from_url(env_str("CACHE_URL"))}

# Debian's runtime packages ship only versioned libraries (no -dev symlinks): point at them.
for _setting, _env, _pattern in (
    ("GDAL_LIBRARY_PATH", "GDAL_LIBRARY_PATH", "libgdal.so.*"),
    ("GEOS_LIBRARY_PATH", "GEOS_LIBRARY_PATH", "libgeos_c.so.*"),
):
    _found = env_str(_env) or next(
        iter(sorted(glob.glob(f"/usr/lib/*-linux-gnu/{_pattern}"), key=len)), ""
    )
    if _found:
        globals()[_setting] = _found

# Debian 12 ships GDAL 3.6, which cannot block file/network access from spatial references.
# Flourish never builds a spatial reference from user input (every SRID is a constant in geo/).
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# --- Auth and sessions ----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Patient data: a session ends after SESSION_IDLE_MINUTES without a request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Any typed username fits axes's 255-character column (none longer can be an account anyway).
AXES_USERNAME_CALLABLE = "config.input.axes_username"
# Also a limit per address across usernames (config/loginlimits.py says why it is separate).
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env_int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 20)
AXES_HANDLER = "config.loginlimits.LoginAttemptHandler"
AXES_LOCKOUT_CALLABLE = "config.loginlimits.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.clientip.client_ip"
# A locked-out attempt stores nothing and does not extend the lockout (so Retry-After holds).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# API tokens (django-rest-knox, stored hashed) end API_TOKEN_HOURS after they are issued, a
# working day by default; signing out of the API or of the pages revokes them sooner.
API_TOKEN_HOURS = env_int("API_TOKEN_HOURS", 8)
if API_TOKEN_HOURS < 1:
    raise ImproperlyConfigured("API_TOKEN_HOURS must be a whole number of hours, 1 or more.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_HOURS),
    "AUTO_REFRESH": False,  # a fixed end: a token in use all day still ends at its expiry
    "AUTH_HEADER_PREFIX": "Token",  # `Authorization: Token <token>`, as before knox
}

# --- Security headers ---------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https://*.tile.openstreetmap.org"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HTTPS in production: on by default when DEBUG is off, each one can be turned off (say, TLS is
# terminated by a proxy that already redirects). Tied to DEBUG so `make run` and the tests, which
# speak plain HTTP, are not redirected.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer or systemd probes each app server directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)  # a year
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# The preload directive only allows submitting the domain to browsers' preload lists (by hand, at
# hstspreload.org); nothing is enrolled by sending it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Behind a reverse proxy that terminates TLS, Django sees plain HTTP: it trusts the proxy's
# X-Forwarded-Proto header (and only that one), or nothing at all with SECURE_PROXY_SSL_HEADER=
# off. Only safe when the proxy always sets (overwrites) the header and the app is reachable only
# through it; otherwise a client could claim HTTPS.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER", "" if DEBUG else "X-Forwarded-Proto")
if _proxy_ssl_header.lower() in {"", "off", "false", "no", "0"}:
    SECURE_PROXY_SSL_HEADER = None
else:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _proxy_ssl_header.upper().replace("-", "_"),
        "https",
    )

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Static files always come from STATIC_ROOT (`make run` collects them), where the compressed
# copies are; set STATIC_FROM_SOURCE=true while editing CSS/JS to skip collectstatic.
WHITENOISE_USE_FINDERS = env_bool("STATIC_FROM_SOURCE", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Compressed copies (gzip, brotli) are made by collectstatic in development too, so
        # `make run` sends pages as light as production does; hashed names only in production.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# --- Email (console in development, a real one in production) -----------------------------
# Django 6.1 mailers (EMAIL_BACKEND is deprecated). Tests swap in the locmem backend.
_CONSOLE_MAIL = "django.core.mail.backends.console.EmailBackend"
_SMTP_MAIL = "django.core.mail.backends.smtp.EmailBackend"
MAILERS = {"default": {"BACKEND": env_str("EMAIL_BACKEND", _CONSOLE_MAIL)}}
# Seconds to wait for the mail server (EMAIL_TIMEOUT) and for GOV.UK Notify's text messages.
SEND_TIMEOUT_SECONDS = env_int("EMAIL_TIMEOUT", 10)
if MAILERS["default"]["BACKEND"] == _SMTP_MAIL:
    # Mailers take their server in OPTIONS (the old EMAIL_HOST settings are deprecated).
    MAILERS["default"]["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 0) or None,
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "use_ssl": env_bool("EMAIL_USE_SSL", False),
        "timeout": SEND_TIMEOUT_SECONDS,
    }
# Referrers hear back about their referrals by email: in production a backend that prints or
# keeps mail in memory means they never would. EMAIL_BACKEND_ALLOW_CONSOLE=true is for trying a
# production-like setup on one machine (make fuzz), never for a deployment.
_MAIL_NOWHERE = {
    _CONSOLE_MAIL,
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
if (
    not DEBUG
    and MAILERS["default"]["BACKEND"] in _MAIL_NOWHERE
    and not env_bool("EMAIL_BACKEND_ALLOW_CONSOLE", False)
):
    raise ImproperlyConfigured(
        f"DEBUG is false but EMAIL_BACKEND is {MAILERS['default']['BACKEND']}, so referrers would "
        f"never hear back: set EMAIL_BACKEND={_SMTP_MAIL} with EMAIL_HOST (and EMAIL_PORT, "
        "EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS=true as your mail server needs), "
        "or another backend that delivers mail."
    )
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Flourish <no-reply@flourish.invalid>")
# Text messages (a self-referral's confirmation) through GOV.UK Notify: off unless both the key
# and the template (a text message template whose content is just ((message))) are set.
NOTIFY_API_KEY = env_str("NOTIFY_API_KEY")
NOTIFY_SMS_TEMPLATE_ID = env_str("NOTIFY_SMS_TEMPLATE_ID")
NOTIFY_BASE_URL = env_str("NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")

# --- Background work (django.tasks on the database; `manage.py worker` runs it) -------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# An email that fails is tried again after 1, 2, 4 ... minutes (at most an hour apart), up to
# EMAIL_MAX_ATTEMPTS tries (about 3 hours with the defaults); then the team lead and the admin
# see it as failed, with a retry button.
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 8)
EMAIL_RETRY_BASE_SECONDS = env_int("EMAIL_RETRY_BASE_SECONDS", 60)
# A delivery still pending this long after it was due was lost (its worker died): sent again.
EMAIL_DELIVERY_LEASE_SECONDS = env_int("EMAIL_DELIVERY_LEASE_SECONDS", 120)
# How often each worker looks for periodic work that is due, and how often each job runs.
WORKER_TICK_SECONDS = env_int("WORKER_TICK_SECONDS", 15)
CHASE_EVERY_SECONDS = env_int("CHASE_EVERY_SECONDS", 3600)
# Open Referral feeds kept in the admin are harvested when due (each feed has its own interval);
# the worker looks for due feeds this often.
HARVEST_EVERY_SECONDS = env_int("HARVEST_EVERY_SECONDS", 3600)
# Named in the harvester's User-Agent, so a feed's owner can reach us (a URL or an address).
HARVEST_CONTACT = env_str("HARVEST_CONTACT")
# Editors type feed URLs and the server fetches them: private, loopback and link-local addresses
# are refused unless this is on (the tests' loopback feeds; never in production).
HARVEST_ALLOW_PRIVATE_ADDRESSES = env_bool("HARVEST_ALLOW_PRIVATE_ADDRESSES", False)
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 60)

# How long a link sent to a community organisation (to keep its listing true) lasts.
LISTING_LINK_DAYS = env_int("LISTING_LINK_DAYS", 30)

# --- API ----------------------------------------------------------------------------------
# The largest API request body accepted (a referral or a follow-up is a few KB).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 256 * 1024)
REST_FRAMEWORK = {
    # Bounded parsers: body size, JSON nesting depth and control characters (config/input.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.input.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "referrals.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Flourish API",
    "DESCRIPTION": "Postcodes, the community asset directory and social prescribing referrals.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents its refusals (400, 401, 403, 404, 429...) in one shared shape.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.document_errors",
    ],
}

# --- Referrals ----------------------------------------------------------------------------
# A clinician makes tens of referrals a day, not hundreds a minute: past these, a 429.
REFERRALS_PER_MINUTE = env_int("REFERRALS_PER_MINUTE", 10)
REFERRALS_PER_DAY = env_int("REFERRALS_PER_DAY", 100)
# The public "refer yourself" form: self-referrals from one client address an hour and a day, the
# fewest seconds between the form being shown and sent, and the working days the confirmation
# says the team will take to be in touch.
SELF_REFERRALS_PER_HOUR = env_int("SELF_REFERRALS_PER_HOUR", 3)
SELF_REFERRALS_PER_DAY = env_int("SELF_REFERRALS_PER_DAY", 10)
SELF_REFERRAL_MIN_SECONDS = env_int("SELF_REFERRAL_MIN_SECONDS", 5)
SELF_REFERRAL_CONTACT_WORKING_DAYS = env_int("SELF_REFERRAL_CONTACT_WORKING_DAYS", 5)
# chase_referrals: a referral still new after CHASE days reminds the team; after DECLINE days it
# is declined ("not picked up in time") and the referrer is told.
REFERRAL_CHASE_AFTER_DAYS = env_int("REFERRAL_CHASE_AFTER_DAYS", 7)
REFERRAL_DECLINE_AFTER_DAYS = env_int("REFERRAL_DECLINE_AFTER_DAYS", 14)
# Counts of people below this are shown as "fewer than N" in managers' figures.
SMALL_NUMBER_THRESHOLD = env_int("SMALL_NUMBER_THRESHOLD", 5)

# --- Geo ----------------------------------------------------------------------------------
# Free-text geocoding beyond the postcode table is off unless GEOCODER is set ("nominatim").
GEOCODER = env_str("GEOCODER")
GEOCODER_URL = env_str("GEOCODER_URL", "https://nominatim.openstreetmap.org")
GEOCODER_USER_AGENT = env_str("GEOCODER_USER_AGENT", "flourish-social-prescribing")
GEOCODER_MIN_DELAY_SECONDS = float(env_str("GEOCODER_MIN_DELAY_SECONDS", "1.0"))
GEOCODER_TIMEOUT_SECONDS = float(env_str("GEOCODER_TIMEOUT_SECONDS", "5"))
POSTCODE_NEAREST_MAX = 100
SEARCH_RADIUS_DEFAULT_M = env_int("SEARCH_RADIUS_DEFAULT_M", 5000)
SEARCH_RADIUS_MAX_M = env_int("SEARCH_RADIUS_MAX_M", 50000)
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors")
LEAFLET_CONFIG = {
    "TILES": MAP_TILE_URL,
    "ATTRIBUTION_PREFIX": "",
    "DEFAULT_CENTER": (53.45, -2.07),
    "DEFAULT_ZOOM": 12,
}

# One JSON object a line (time, level, logger, message, request id, user id, and per request:
# method, path, status, duration); LOG_FORMAT=text for reading by eye (make dev).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "config.logs.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {
        # Flourish's own: each request, the worker, the tasks.
        "flourish": {"level": env_str("LOG_LEVEL_FLOURISH", "INFO")},
        "django.tasks": {"level": "INFO"},
        # Django logs 4xx/5xx as warnings; the request line above says it already.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
    },
}

# --- The embeddable widget (issue 12, part 3) ---------------------------------------------------
# Which sites may show /embed/widget/ in a frame: its own CSP frame-ancestors, comma-separated
# sources ("https://*.nhs.uk,https://example-practice.co.uk"). By default any
# site may, so any practice or council can paste the snippet; every other page keeps
# frame-ancestors 'none' and X-Frame-Options DENY.
EMBED_FRAME_ANCESTORS = env_list("EMBED_FRAME_ANCESTORS", ["*"])
# A source with a space or a semicolon would add sources or directives to the widget's policy.
if not EMBED_FRAME_ANCESTORS or any(
    c in source for source in EMBED_FRAME_ANCESTORS for c in ' \t;"'
):
    raise ImproperlyConfigured(
        "EMBED_FRAME_ANCESTORS must be comma-separated sources like https://*.nhs.uk, "
        f"each without spaces or semicolons; got {EMBED_FRAME_ANCESTORS!r}"
    )

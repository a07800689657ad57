"""Production settings, checked in a fresh process with a production environment.

The suite itself runs with DEBUG=1 settings, so what a deployment gets (DEBUG off, HTTPS, a real
secret key) is only visible to a subprocess started with that environment.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

# Every variable config/settings.py reads: a value left over in the developer's shell (or CI's)
# must not leak into a check of the defaults.
SETTINGS_ENV = (
    "DEBUG",
    "SECRET_KEY",
    "ID_DIGEST_KEY",
    "SEPARATION_OF_DUTIES",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATA_DIR",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "REDIS_URL",
    "Q_CLUSTER_NAME",
    "Q_WORKERS",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "MEDIA_STORAGE_BACKEND",
    "MEDIA_S3_BUCKET",
    "MEDIA_S3_ENDPOINT_URL",
    "MEDIA_S3_REGION",
    "MEDIA_S3_ADDRESSING_STYLE",
    "MEDIA_S3_ACCESS_KEY_ID",
    "MEDIA_S3_SECRET_ACCESS_KEY",
    "MEDIA_S3_URL_EXPIRE",
    "CSP_IMG_SOURCES",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "BEHIND_TLS_PROXY",
    "LOG_LEVEL",
    "SITE_BASE_URL",
    "PATROL_REMINDER_DAY",
    "MAP_TILE_URL",
    "MAP_TILE_GCJ02",
    "MAP_TILE_ATTRIBUTION",
    "REQUEST_MAX_MB",
    "DJANGO_SETTINGS_MODULE",
)
SETTINGS_DUMP = """
import json
from config import settings as s
print(json.dumps({
    "LANGUAGE_CODE": s.LANGUAGE_CODE,
    "TIME_ZONE": s.TIME_ZONE,
    "USE_TZ": s.USE_TZ,
    "DEBUG": s.DEBUG,
    "DATABASE": {k: str(v) for k, v in s.DATABASES["default"].items() if k != "OPTIONS"},
    "DATABASE_OPTIONS": s.DATABASES["default"].get("OPTIONS", {}),
    "Q_CLUSTER": s.Q_CLUSTER,
    "SECRET_KEY_LENGTH": len(s.SECRET_KEY),
    "SECRET_KEY_FROM_FILE": s.SECRET_KEY == (s.DATA_DIR / "secret_key").read_text().strip()
    if (s.DATA_DIR / "secret_key").exists() else False,
}))
"""


def random_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(60))


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": random_secret_key(),
        "ID_DIGEST_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "rjhj.example.gov.cn",
        "DATA_DIR": str(tmp_path),
        **extra,
    }


def settings_under(env: dict[str, str]) -> dict:
    result = run(["-c", SETTINGS_DUMP], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_deploy_check_passes_with_production_settings(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_fails_on_a_weak_secret_key(tmp_path):
    # The check above must be able to fail: a short key is a deploy warning (security.W009).
    env = production_env(tmp_path, SECRET_KEY="too-short")

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "W009" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("value", "why"),
    [(None, "is not set"), ("short-key", "shorter than 32"), ("SECRET", "is the SECRET_KEY")],
)
def test_production_refuses_to_start_without_its_own_id_digest_key(tmp_path, value, why):
    # The digest key must not be the SECRET_KEY, which the embedded setup keeps in a file next
    # to the database: with both, every ID number could be tested against the digests.
    env = production_env(tmp_path)
    if value is None:
        del env["ID_DIGEST_KEY"]
    else:
        env["ID_DIGEST_KEY"] = env["SECRET_KEY"] if value == "SECRET" else value

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "villages.E001" in result.stderr and why in result.stderr


def test_without_its_key_production_computes_no_id_digest(tmp_path):
    # What an import would store: refused rather than keyed by the SECRET_KEY.
    env = production_env(tmp_path)
    del env["ID_DIGEST_KEY"]
    code = "import django; django.setup(); from villages.models import id_number_digest; "
    code += "id_number_digest('370828199001011234')"

    result = run(["-c", code], {**env, "DJANGO_SETTINGS_MODULE": "config.settings"})

    assert result.returncode != 0 and "ApplicationError" in result.stderr
    assert "ID_DIGEST_KEY" in result.stderr


def test_without_a_secret_key_one_is_made_once_and_kept(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]

    first = settings_under(env)
    second = settings_under(env)

    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text()) >= 50
    assert first["SECRET_KEY_LENGTH"] == second["SECRET_KEY_LENGTH"] >= 50
    assert first["SECRET_KEY_FROM_FILE"] and second["SECRET_KEY_FROM_FILE"]
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_defaults_are_chinese_in_shanghai_time(tmp_path):
    values = settings_under(production_env(tmp_path))

    assert values["LANGUAGE_CODE"] == "zh-hans"
    assert values["TIME_ZONE"] == "Asia/Shanghai"
    assert values["USE_TZ"] is True
    assert values["DEBUG"] is False


def test_debug_must_be_asked_for(tmp_path):
    env = production_env(tmp_path)
    del env["DEBUG"]

    assert settings_under(env)["DEBUG"] is False


def test_without_database_url_it_is_sqlite_in_wal_mode_under_data_dir(tmp_path):
    values = settings_under(production_env(tmp_path))

    assert values["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(values["DATABASE"]["NAME"]) == tmp_path / "db.sqlite3"
    options = values["DATABASE_OPTIONS"]
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 5
    assert options["transaction_mode"] == "IMMEDIATE"


def test_database_url_switches_to_postgresql(tmp_path):
    env = production_env(tmp_path, DATABASE_URL="postgres://renju@db.internal:5432/renju")

    values = settings_under(env)

    assert values["DATABASE"]["ENGINE"] == "django.db.backends.postgresql"
    assert values["DATABASE"]["NAME"] == "renju"
    assert "init_command" not in values["DATABASE_OPTIONS"]
    assert "journal_mode" not in json.dumps(values["DATABASE_OPTIONS"])


def test_the_task_queue_uses_the_database_without_redis_url(tmp_path):
    q_cluster = settings_under(production_env(tmp_path))["Q_CLUSTER"]

    assert q_cluster["orm"] == "default"
    assert "redis" not in q_cluster


def test_redis_url_switches_the_task_queue_to_redis(tmp_path):
    env = production_env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3")

    q_cluster = settings_under(env)["Q_CLUSTER"]

    assert q_cluster["redis"] == "redis://127.0.0.1:6379/3"
    assert "orm" not in q_cluster
    # A task may run `timeout` seconds; a retry before that would run it twice.
    assert q_cluster["retry"] > q_cluster["timeout"]


CACHE_SCRIPT = """
import sys
import django
django.setup()
from django.core.cache import cache
if sys.argv[1] == "set":
    cache.set("scan:part", "from another process", 60)
else:
    print(cache.get("scan:part"))
"""


def test_without_redis_url_the_web_processes_share_one_cache_under_data_dir(tmp_path):
    # The scan page's parts are rendered once for every gunicorn worker, not once in each
    # (bench_scan: per-process caches missed all three parts of 3 scans in 4).
    env = production_env(tmp_path, DJANGO_SETTINGS_MODULE="config.settings")

    made = run(["-c", CACHE_SCRIPT, "set"], env)
    read = run(["-c", CACHE_SCRIPT, "get"], env)

    assert made.returncode == 0, made.stderr
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "from another process"
    assert list((tmp_path / "cache" / "parts").glob("*.djcache"))

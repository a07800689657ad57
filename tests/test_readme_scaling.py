"""README § Scaling out names what exists: every setting it names is read by config/settings.py
(and listed in § Configuration), every file it points to is there, its nginx upstream passes
the same proxy headers as § Production's location, and the figures it quotes are the code's."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from inspections.sites.models import POLICY_CACHE_SECONDS
from villages import imports_page

BASE = Path(settings.BASE_DIR)
README = (BASE / "README.md").read_text()
SETTINGS_SOURCE = (BASE / "config" / "settings.py").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


SCALING = section("Scaling out")
CONFIGURATION = section("Configuration")
NAMES = sorted(set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", SCALING)))


def test_it_comes_right_after_production():
    titles = re.findall(r"^## (.+)$", README, re.M)
    assert titles[titles.index("Production") + 1] == "Scaling out"


def test_every_variable_it_names_is_read_by_the_settings_and_documented():
    environment = [name for name in NAMES if f'"{name}"' in SETTINGS_SOURCE]
    assert {"MEDIA_S3_BUCKET", "MEDIA_S3_ENDPOINT_URL", "REDIS_URL", "SECRET_KEY"} <= set(
        environment
    )
    for name in NAMES:
        # An environment variable of config/settings.py, or a setting or constant of the code.
        assert name in environment or hasattr(settings, name) or name == "POLICY_CACHE_SECONDS"
    for name in environment:
        assert f"`{name}`" in CONFIGURATION, name


def test_every_file_it_names_exists():
    paths = re.findall(
        r"`((?:config|core|villages|workflows|inspections|tests)/[\w/.]+\.py)`", SCALING
    )
    paths += re.findall(r"\((villages/[\w/]+\.py)\)", SCALING)
    assert "tests/workflows/test_s3_storage.py" in paths
    for path in paths:
        assert (BASE / path).is_file(), path


def proxy_headers(text: str) -> list[str]:
    return re.findall(r"proxy_set_header .+;", text)


def test_the_upstream_passes_the_headers_production_passes():
    production = section("Production")
    assert proxy_headers(SCALING) == proxy_headers(production)
    assert "proxy_pass http://renju;" in SCALING and "upstream renju {" in SCALING


def test_the_figures_are_the_codes():
    assert POLICY_CACHE_SECONDS == 5 * 60 and "within 5 minutes" in SCALING
    # The cookie the upstream hashes on is the session's; the preview is a file on one server.
    assert settings.SESSION_COOKIE_NAME == "sessionid" and "$cookie_sessionid" in SCALING
    assert str(imports_page.PENDING_ROOT).startswith("/") and "temporary folder" in SCALING
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    assert list(settings.DATABASES) == ["default"] and not settings.DATABASE_ROUTERS
    assert "no router" in SCALING

"""Production settings (DEBUG off) plus the floor views of bench_scan, for its gunicorn server.

config/settings.py reads ROOT_URLCONF from no environment variable, hence this module.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import STORAGES

ROOT_URLCONF = "bench.urls_bench"

# The pages link static files but the bench never fetches them. The production storage needs a
# manifest from collectstatic (13 s of compressing on this machine, a tenth of the bench); the
# plain storage builds the same URLs without hashes, which costs a {% static %} tag no more.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

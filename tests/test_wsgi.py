"""config/wsgi.py, what gunicorn imports in each worker: the URLconf is read when the worker
starts, so that no user's request waits for it after a restart."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

PROBE = """
import sys
import config.wsgi
print("config.urls" in sys.modules, "inspections.sites.views_labels" in sys.modules)
"""


def test_a_worker_has_read_the_urlconf_before_its_first_request(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="1", DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # The URLconf and a view module it names (the label sheet's, which imports WeasyPrint).
    assert out.stdout.split() == ["True", "True"], out.stderr

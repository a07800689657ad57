"""PostgreSQL sessions as config/settings.py opens them."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_postgresql_sessions_run_without_jit():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (DATABASE_URL)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


def test_a_sqlite_database_url_opens_without_postgresql_options(tmp_path):
    """DATABASE_URL may name an SQLite file too: PostgreSQL's session options stay PostgreSQL's
    (sqlite3.connect refuses an `options` argument)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'county.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    code = "import django; django.setup(); from django.db import connection; "
    code += "connection.ensure_connection(); print(connection.vendor)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sqlite"

"""The demo never touches real data: `make demo` runs in its own data directory, and load_demo
refuses a database that holds another county or people it did not create."""

from __future__ import annotations

import io
import subprocess

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from inspections.management.commands import load_demo
from villages.models import County, Membership, Person, Town

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True  # as `make demo` runs it; pytest-django turns DEBUG off


def test_load_demo_refuses_a_production_setup(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo", verbosity=0)

    assert not County.objects.exists()
    assert not get_user_model().objects.exists()


def demo_admin(settings, data_dir, database):
    """The superuser load_demo makes with DATA_DIR `data_dir` and the SQLite file `database`."""
    saved = dict(settings.DATABASES["default"])
    settings.DATA_DIR = data_dir
    settings.DATABASES["default"] = {
        **saved,
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": database,
    }
    try:
        _username, label = load_demo.Command(stdout=io.StringIO())._admin()
    finally:
        settings.DATABASES["default"] = saved
    return get_user_model().objects.get(username="admin"), label


def test_the_demo_admin_has_the_known_password_only_in_the_marked_demo_directory(
    settings, tmp_path
):
    (tmp_path / load_demo.DEMO_MARK).write_text("make demo")

    admin, label = demo_admin(settings, tmp_path, tmp_path / "db.sqlite3")

    assert admin.is_superuser and admin.check_password(load_demo.DEMO_PASSWORD)
    assert "one-time" not in label and "一次性" not in label


@pytest.mark.parametrize("marked", [False, True])
def test_elsewhere_the_demo_admin_gets_a_one_time_password(settings, tmp_path, marked):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if marked:  # a marked directory, but the database is not in it
        (data_dir / load_demo.DEMO_MARK).write_text("make demo")
    database = tmp_path / "county.sqlite3" if marked else data_dir / "db.sqlite3"

    admin, label = demo_admin(settings, data_dir, database)

    assert admin.is_superuser
    assert not admin.check_password(load_demo.DEMO_PASSWORD)
    assert Person.objects.get(user=admin).must_change_password
    assert "one-time" in label or "一次性" in label


def test_load_demo_refuses_a_database_with_another_county():
    County.objects.create(code="510722000000", name="三台县", parent_code="510700000000")

    with pytest.raises(CommandError, match="三台县"):
        call_command("load_demo", verbosity=0)

    assert not County.objects.filter(code="370828000000").exists()
    assert not get_user_model().objects.exists()


def test_load_demo_refuses_a_database_with_real_people(divisions):
    get_user_model().objects.create_user("wangfang", password="x" * 12)

    with pytest.raises(CommandError, match="wangfang"):
        call_command("load_demo", verbosity=0)

    assert list(get_user_model().objects.values_list("username", flat=True)) == ["wangfang"]
    assert not Membership.objects.exists()
    assert Town.objects.count() == 13  # the fixture's, nothing added


def test_make_demo_runs_in_its_own_data_directory(tmp_path):
    demo_dir = tmp_path / "demo-data"
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "demo", f"DEMO_DATA_DIR={demo_dir}"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    manage_lines = [line for line in printed.splitlines() if "manage.py" in line]
    assert {line.split("manage.py ")[1] for line in manage_lines} >= {
        "migrate --noinput",
        "load_demo",
        "setup_schedules",
    }
    for line in manage_lines:
        # its own SQLite file and media, never a DATABASE_URL or broker set for the county
        assert line.startswith(f"DATA_DIR={demo_dir} DATABASE_URL= REDIS_URL= "), line
    serve = [line for line in printed.splitlines() if "bin/serve.py" in line]
    assert serve, printed
    assert f"serve DATA_DIR={demo_dir} DATABASE_URL= REDIS_URL=" in printed

"""The task force's import page (/imports/): an upload is previewed (run and rolled back), then
the same file is imported on confirm with exactly the preview's counts; a bad file is a 400
naming its lines, with nothing written; other roles are refused."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from villages import imports_page
from villages.import_templates import template_get, template_xlsx
from villages.models import County, Household, Town, Village

DIVISIONS_CSV = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"


@pytest.fixture(autouse=True)
def _pending_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(imports_page, "PENDING_ROOT", tmp_path / "pending")


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def households_template() -> SimpleUploadedFile:
    return SimpleUploadedFile("农户台账.xlsx", template_xlsx(template_get("households")))


def counts_of(page: str) -> dict[str, int]:
    found = re.findall(r'data-count="(\w+)">(\d+)<', page)
    return {name: int(value) for name, value in found}


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def divisions_count() -> tuple[int, int, int]:
    return County.objects.count(), Town.objects.count(), Village.objects.count()


def test_a_town_officer_is_refused(hj_officer):
    client = client_of(hj_officer)

    assert client.get(reverse("import_list")).status_code == 403
    response = client.post(
        reverse("import_preview", args=["households"]), {"file": households_template()}
    )
    assert response.status_code == 403
    assert not Household.objects.exists()


def test_the_page_lists_every_kind_with_its_template(task_force):
    page = client_of(task_force).get(reverse("import_list")).content.decode()

    for kind in ("divisions", "households", "sites", "checklist", "staff"):
        assert reverse("import_template", args=[kind]) in page
    for kind in ("divisions", "households", "sites", "checklist"):
        assert reverse("import_preview", args=[kind]) in page
    assert reverse("person_import") in page


def test_households_preview_writes_nothing_and_confirm_writes_its_counts(task_force):
    client = client_of(task_force)

    preview = client.post(
        reverse("import_preview", args=["households"]), {"file": households_template()}
    )

    assert preview.status_code == 200
    page = preview.content.decode()
    assert counts_of(page) == {"created": 1, "updated": 0, "unchanged": 0}
    assert "农户台账.xlsx" in page
    assert not Household.objects.exists()

    confirmed = client.post(
        reverse("import_confirm", args=["households"]), {"token": token_of(page)}
    )

    assert confirmed.status_code == 303
    assert Household.objects.count() == 1
    # The file is gone with the token: a second confirm imports nothing.
    again = client.post(reverse("import_confirm", args=["households"]), {"token": token_of(page)})
    assert again.status_code == 400
    assert Household.objects.count() == 1


def test_divisions_on_an_empty_database(db, task_force_on_empty_db):
    client = client_of(task_force_on_empty_db)
    upload = SimpleUploadedFile("divisions_2023.csv", DIVISIONS_CSV.read_bytes())

    preview = client.post(reverse("import_preview", args=["divisions"]), {"file": upload})

    assert preview.status_code == 200, preview.content.decode()[:2000]
    page = preview.content.decode()
    counts = counts_of(page)
    assert counts["created"] > 0
    assert divisions_count() == (0, 0, 0)

    confirmed = client.post(
        reverse("import_confirm", args=["divisions"]), {"token": token_of(page)}
    )

    assert confirmed.status_code == 303
    assert sum(divisions_count()) == counts["created"]


@pytest.fixture
def task_force_on_empty_db(db):
    """The administrator on a database with no divisions stored: a task-force membership names
    its county, which does not exist yet; a superuser acts as the task force everywhere."""
    from tests.factories import make_user

    return make_user("tf_empty", is_superuser=True)


def test_a_bad_file_shows_its_lines_with_400_and_writes_nothing(task_force):
    csv = (
        "村代码,户号,户主姓名\n370828102200,001,王建国\n999999999999,002,李四\n370828102200,,张三\n"
    )
    upload = SimpleUploadedFile("台账.csv", csv.encode())

    response = client_of(task_force).post(
        reverse("import_preview", args=["households"]), {"file": upload}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "3" in page and "4" in page
    assert re.search(r'class="error">[^<]*3', page)
    assert re.search(r'class="error">[^<]*4', page)
    assert not Household.objects.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.xlsx", b"\x00\x01not a zip at all\xff\xfe"),
        ("garbage.csv", bytes(range(256)) * 4),
        ("台账.xls", b"an old workbook"),
        ("empty.xlsx", b""),
        ("notes.txt", b"hello"),
    ],
)
def test_garbage_is_a_400(task_force, name, content):
    response = client_of(task_force).post(
        reverse("import_preview", args=["households"]),
        {"file": SimpleUploadedFile(name, content)},
    )

    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not Household.objects.exists()


def test_a_forged_token_is_a_400(task_force):
    client = client_of(task_force)
    page = client.post(
        reverse("import_preview", args=["households"]), {"file": households_template()}
    ).content.decode()

    forged = client.post(reverse("import_confirm", args=["households"]), {"token": "x" * 32})
    other_kind = client.post(reverse("import_confirm", args=["sites"]), {"token": token_of(page)})

    assert forged.status_code == 400
    assert other_kind.status_code == 400
    assert not Household.objects.exists()


def test_an_unknown_kind_is_404(task_force):
    client = client_of(task_force)

    assert client.post(reverse("import_preview", args=["staff"])).status_code == 404
    assert client.post(reverse("import_confirm", args=["nothing"])).status_code == 404

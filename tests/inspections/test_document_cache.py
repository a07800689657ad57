"""Documents kept in the "documents" cache (core.pdf.cached_pdf): a label sheet until one of its
sites changes, a published round's grade PDF and rows per jurisdiction. Each test counts the
PDFs WeasyPrint actually made and reads what was served."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.urls import reverse

from core import pdf
from inspections.models import GradingPolicy, WaterSite
from tests.factories import HUJI_CODE
from tests.inspections.conftest import make_site
from tests.inspections.test_grades import grade, make_round, pdf_text, villages_of
from tests.inspections.test_labels import read_sheet

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def documents_cache(settings):
    """A cache of the test's own: nothing made by another test (whose ids SQLite gives again)."""
    settings.CACHES = settings.CACHES | {
        "documents": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    yield caches["documents"]
    caches["documents"].clear()


@pytest.fixture
def made(monkeypatch) -> list[str]:
    """The templates WeasyPrint rendered, in order."""
    names = []
    render = pdf.render_pdf

    def counting(*, template_name, **kwargs):
        names.append(template_name)
        return render(template_name=template_name, **kwargs)

    monkeypatch.setattr(pdf, "render_pdf", counting)
    return names


def labels(client, user, **query):
    client.force_login(user)
    return client.get(reverse("site_labels"), query)


# --- label sheets ---------------------------------------------------------------------------------


@pytest.fixture
def two_sites(huji, huji_village):
    return [
        make_site(huji, huji_village, state="maintained", name="胡集村坑塘"),
        make_site(huji, huji_village, name="胡集村东大沟", kind="ditch"),
    ]


def test_a_label_sheet_is_made_once(client, task_force, two_sites, made):
    first = b"".join(labels(client, task_force, town=HUJI_CODE).streaming_content)
    again = b"".join(labels(client, task_force, town=HUJI_CODE).streaming_content)

    assert made == ["inspections/labels.html"]
    assert again == first


def test_a_renamed_site_gives_a_new_sheet(client, task_force, two_sites, made):
    labels(client, task_force, town=HUJI_CODE)
    site = WaterSite.objects.get(pk=two_sites[0].pk)
    site.name = "胡集村西坑塘"
    site.save()

    sheet = read_sheet(labels(client, task_force, town=HUJI_CODE))

    assert len(made) == 2
    assert "胡集村西坑塘" in sheet.text and "胡集村坑塘" not in sheet.text


def test_a_replaced_label_prints_the_new_code(client, task_force, two_sites, made):
    labels(client, task_force, town=HUJI_CODE)
    site = WaterSite.objects.get(pk=two_sites[0].pk)
    site.rotate_token()
    site.save()

    sheet = read_sheet(labels(client, task_force, town=HUJI_CODE))

    assert f"http://testserver/s/{site.token}" in sheet.urls


def test_a_renamed_village_gives_a_new_sheet(client, task_force, two_sites, huji_village, made):
    labels(client, task_force, town=HUJI_CODE)
    huji_village.name = "新胡集村民委员会"
    huji_village.save()

    sheet = read_sheet(labels(client, task_force, town=HUJI_CODE))

    assert len(made) == 2
    assert "新胡集村" in sheet.text


def test_another_choice_of_sites_is_another_sheet(client, task_force, two_sites, made):
    labels(client, task_force, town=HUJI_CODE)

    sheet = read_sheet(labels(client, task_force, site=two_sites[1].code))

    assert len(made) == 2
    assert two_sites[1].name in sheet.text and two_sites[0].name not in sheet.text


# --- a published round ----------------------------------------------------------------------------


@pytest.fixture
def round1(campaign, inspector, huji, jishu):
    round = make_round(campaign, 1)
    scores = dict.fromkeys(villages_of(huji, 3), "95") | dict.fromkeys(villages_of(jishu, 2), "70")
    grade(round, inspector, scores)
    return round


def grades_pdf(client, user, round) -> bytes:
    client.force_login(user)
    response = client.get(reverse("round_grades_pdf", args=[round.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_a_published_rounds_pdf_is_made_once_per_jurisdiction(
    client, task_force, hj_officer, round1, huji, jishu, made
):
    county = grades_pdf(client, task_force, round1)
    assert grades_pdf(client, task_force, round1) == county
    town = grades_pdf(client, hj_officer, round1)
    assert grades_pdf(client, hj_officer, round1) == town

    assert made == ["inspections/grades_print.html"] * 2
    assert jishu.name in pdf_text(county)
    assert huji.name in pdf_text(town) and jishu.name not in pdf_text(town)


def test_a_renamed_campaign_or_shorter_lists_give_a_new_pdf(
    client, task_force, round1, campaign, made
):
    grades_pdf(client, task_force, round1)
    campaign.name = "2025年村村到"
    campaign.save()
    renamed = grades_pdf(client, task_force, round1)
    policy = GradingPolicy.current("370828000000")
    policy.top_n = 1
    policy.save()
    grades_pdf(client, task_force, round1)

    assert len(made) == 3
    assert "2025年村村到" in pdf_text(renamed)


def test_the_rows_of_a_published_round_are_read_once_per_jurisdiction(
    client, task_force, hj_officer, round1, huji
):
    page = reverse("round_grades", args=[round1.pk])
    client.force_login(task_force)
    client.get(page)
    cached = len(caches["documents"]._cache)

    client.force_login(hj_officer)
    response = client.get(page)

    assert len(caches["documents"]._cache) == cached + 1  # a key of his jurisdiction's own
    shown = [row.town_code for row in response.context["results"].rows]
    assert shown and set(shown) == {huji.code}


def test_a_lower_round_published_later_changes_the_movement(
    client, task_force, campaign, inspector, huji
):
    villages = villages_of(huji, 2)
    round2 = make_round(campaign, 2)
    grade(round2, inspector, dict.fromkeys(villages, "95"))
    client.force_login(task_force)
    page = reverse("round_grades", args=[round2.pk])
    assert all(row.previous is None for row in client.get(page).context["results"].rows)

    round1 = make_round(campaign, 1)
    grade(round1, inspector, dict.fromkeys(villages, "50"))

    rows = client.get(page).context["results"].rows
    assert [row.previous for row in rows] == ["weak", "weak"]


def test_a_round_not_yet_published_is_never_cached(campaign, inspector, huji, task_force):
    from inspections.grading.grades import round_results

    round = make_round(campaign, 1, state="closed")
    grade(round, inspector, dict.fromkeys(villages_of(huji, 2), "95"))

    round_results(round=round, user=task_force)

    assert caches["documents"]._cache == {}

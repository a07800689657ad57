"""QR label sheets: the printed codes read back as the sites' scan URLs, the Chinese text is real
text (not boxes), and each user prints only the sites of his own jurisdiction.

The PDF is checked the way a signboard is used: rasterised and read by a QR decoder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import HUJI_CODE, JISHU_CODE
from tests.inspections.conftest import make_site

LABELS = reverse("site_labels")
# 144 dpi: the 90 mm code is ~510 px, 12 px a module; the decoder needs 2–3.
RASTER_SCALE = 2


@dataclass
class Sheet:
    pages: int
    text: str
    urls: list[str]


def read_sheet(response) -> Sheet:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    document = pdfium.PdfDocument(b"".join(response.streaming_content))
    try:
        pages = [document[i] for i in range(len(document))]
        text = "\n".join(page.get_textpage().get_text_range() for page in pages)
        urls = [url for page in pages for url in _qr_codes(page)]
        return Sheet(pages=len(pages), text=text, urls=urls)
    finally:
        document.close()


def _qr_codes(page) -> list[str]:
    image = page.render(scale=RASTER_SCALE, grayscale=True).to_pil()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [barcode.text for barcode in found]


def scan_urls(*sites, base="http://testserver") -> list[str]:
    return sorted(f"{base}/s/{site.token}" for site in sites)


@pytest.fixture
def huji_sites(huji, huji_village):
    """Three listed sites of 胡集镇, one without a village (a river along the town's border)."""
    return [
        make_site(huji, huji_village, state="maintained"),
        make_site(huji, huji_village, name="胡集村东大沟", kind="ditch"),
        make_site(huji, None, name="万福河胡集段", kind="river", state="suspected"),
    ]


@pytest.fixture
def printing(client):
    def get(user, **query):
        client.force_login(user)
        return client.get(LABELS, query)

    return get


# --- the sheet ----------------------------------------------------------------------------------


def test_a_towns_sheet_reads_back_as_exactly_its_sites_scan_urls(
    printing, task_force, huji_sites, jishu_site
):
    sheet = read_sheet(printing(task_force, town=HUJI_CODE))

    assert sorted(sheet.urls) == scan_urls(*huji_sites)
    assert sheet.pages == 2  # two labels a sheet


def test_the_chinese_text_is_text_not_boxes(printing, task_force, huji_sites):
    sheet = read_sheet(printing(task_force, town=HUJI_CODE))

    for site in huji_sites:
        assert site.name in sheet.text
        assert site.code in sheet.text
    assert "胡集镇 胡集村" in sheet.text  # town and the village's short name
    for words in ("王县长", "0537-8721000", "李镇长", "13800000001", "张书记", "13800000002"):
        assert words in sheet.text


def test_it_is_an_inline_pdf_named_after_the_town_and_day(printing, task_force, huji_sites):
    response = printing(task_force, town=HUJI_CODE)

    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline;")
    name = f"-胡集镇-{timezone.localdate().isoformat()}.pdf"
    assert quote(name) in disposition  # RFC 5987 filename*=utf-8''…


def test_a_rotated_token_prints_only_the_new_url(printing, task_force, huji_site):
    old = scan_urls(huji_site)
    assert read_sheet(printing(task_force, site=huji_site.code)).urls == old

    huji_site.rotate_token()
    huji_site.save()

    urls = read_sheet(printing(task_force, site=huji_site.code)).urls
    assert urls == scan_urls(huji_site)
    assert urls != old


def test_a_site_base_url_without_a_scheme_is_refused_not_printed(
    client, task_force, huji_site, settings
):
    # Relative URLs in 133 QR codes would be found out only on the signboards.
    settings.SITE_BASE_URL = "renju.example.gov.cn"
    client.force_login(task_force)

    with pytest.raises(ImproperlyConfigured, match="SITE_BASE_URL"):
        client.get(LABELS)


def test_the_site_base_url_setting_wins_over_the_printing_host(
    printing, task_force, huji_site, settings
):
    # The office prints from an intranet address; the phones in the villages need the public one.
    settings.SITE_BASE_URL = "https://renju.example.gov.cn"

    sheet = read_sheet(printing(task_force, site=huji_site.code))

    assert sheet.urls == scan_urls(huji_site, base="https://renju.example.gov.cn")


def test_chosen_sites_only(printing, task_force, huji_sites, jishu_site):
    chosen = [huji_sites[0], jishu_site]

    sheet = read_sheet(printing(task_force, site=[site.code for site in chosen]))

    assert sorted(sheet.urls) == scan_urls(*chosen)
    assert sheet.pages == 1


def test_delisted_sites_are_not_printed(printing, task_force, huji, huji_sites):
    delisted = make_site(huji, None, state="delisted")

    sheet = read_sheet(printing(task_force))

    assert sorted(sheet.urls) == scan_urls(*huji_sites)
    assert printing(task_force, site=delisted.code).status_code == 404


def test_queries_do_not_grow_with_the_number_of_sites(client, task_force, huji, huji_village):
    client.force_login(task_force)
    make_site(huji, huji_village)
    with CaptureQueriesContext(connection) as one:
        assert client.get(LABELS).status_code == 200
    for _ in range(4):
        make_site(huji, huji_village)
    with CaptureQueriesContext(connection) as five:
        assert client.get(LABELS).status_code == 200

    assert len(five) == len(one)


def test_weasyprint_finds_everything_the_sheet_links(printing, task_force, huji_site, caplog):
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        read_sheet(printing(task_force))

    assert not caplog.records, [record.getMessage() for record in caplog.records]


# --- who prints what ----------------------------------------------------------------------------


def test_a_town_officer_prints_his_own_towns_sites(printing, hj_officer, huji_sites, jishu_site):
    sheet = read_sheet(printing(hj_officer))

    assert sorted(sheet.urls) == scan_urls(*huji_sites)


def test_another_towns_officer_gets_404_for_huji(printing, other_officer, huji_sites):
    response = printing(other_officer, town=HUJI_CODE)

    assert response.status_code == 404
    assert HUJI_CODE in str(response.context["exception"])


def test_a_site_out_of_scope_is_404_like_a_missing_one(printing, hj_officer, huji_site, jishu_site):
    out_of_scope = printing(hj_officer, site=[huji_site.code, jishu_site.code])
    missing = printing(hj_officer, site=[huji_site.code, "HC-NONE"])

    assert out_of_scope.status_code == missing.status_code == 404
    assert jishu_site.code in str(out_of_scope.context["exception"])
    assert "HC-NONE" in str(missing.context["exception"])


def test_no_sites_is_404(printing, other_officer, task_force, huji_site):
    assert printing(other_officer).status_code == 404  # 鸡黍镇 has none
    response = printing(task_force, town=JISHU_CODE)

    assert response.status_code == 404


def test_an_unknown_town_is_404(printing, task_force, huji_site):
    assert printing(task_force, town="370828999000").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"town": "胡集镇"},
        {"town": "3708281020"},
        {"town": [HUJI_CODE, JISHU_CODE]},
        {"site": "HC T0001"},
        {"site": ""},
    ],
)
def test_a_malformed_parameter_is_400(printing, task_force, huji_site, query):
    assert printing(task_force, **query).status_code == 400


@pytest.mark.parametrize("user", ["nobody", "inspector", "village_admin"])
def test_roles_that_issue_no_labels_get_403(printing, huji_site, user, request):
    response = printing(request.getfixturevalue(user))

    assert response.status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, huji_site):
    response = client.get(LABELS)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))

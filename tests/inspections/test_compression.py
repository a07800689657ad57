"""Pages and JSON travel gzipped (a village's 3G link), and a phone's pages stay small: under
60 KB compressed. Files that are compressed already (Excel, PDF, photos) pass as they are."""

from __future__ import annotations

import gzip

import pytest
from django.urls import reverse

from tests.inspections.conftest import make_site

PHONE_LIMIT = 60 * 1024
GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def fetch(client, url):
    response = client.get(url, **GZIP)
    assert response.status_code == 200, url
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.fixture
def many_sites(huji, huji_village):
    return [make_site(huji, huji_village, state="maintained") for _ in range(40)]


@pytest.mark.parametrize(
    "name, args",
    [
        ("scan", "token"),
        ("ticket_list", None),
        ("site_list", None),
        ("field_home", None),
        ("home", None),
        ("notification_list", None),
    ],
)
def test_a_phone_page_is_gzipped_and_small(client, inspector, many_sites, name, args):
    client.force_login(inspector)
    url = reverse(name, args=[many_sites[0].token] if args else None)
    response, body = fetch(client, url)
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    html = gzip.decompress(body)
    assert b"</html>" in html
    assert len(body) < PHONE_LIMIT, (name, len(body), len(html))


def test_json_is_gzipped_and_a_ledger_is_not(client, task_force, many_sites):
    client.force_login(task_force)
    response, body = fetch(client, reverse("field_pack"))
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"{")
    response, body = fetch(client, reverse("ticket_export"))
    assert not response.has_header("Content-Encoding")
    assert body[:2] == b"PK"  # an .xlsx is a zip already


def test_without_accept_encoding_the_page_is_plain(client, inspector):
    client.force_login(inspector)
    response = client.get(reverse("home"))
    assert not response.has_header("Content-Encoding")

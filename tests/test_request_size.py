"""A request larger than REQUEST_MAX_BYTES is refused with 413 from its declared length, before
anything reads its body: a 100 MB upload costs the server its headers only."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from tests.workflows.conftest import jpeg_upload
from workflows.models import EvidencePhoto, RectificationTicket

MB = 1024 * 1024


def shown(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    read_calls = 0

    def read(self, *args):
        type(self).read_calls += 1
        raise AssertionError("the body of a refused request was read")

    readline = read


@pytest.fixture
def officer_client(client, hj_officer):
    client.force_login(hj_officer)
    return client


@pytest.mark.django_db
def test_a_100_mb_upload_is_refused_without_reading_it(officer_client, huji):
    response = officer_client.generic(
        "POST",
        reverse("ticket_new"),
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(100 * MB),
        **{"wsgi.input": UnreadableBody()},
    )
    assert response.status_code == 413
    assert UnreadableBody.read_calls == 0
    page = response.content.decode()
    assert shown("Upload too large") in page
    assert "100 MB" in page and "64 MB" in page  # what was sent and what may be
    assert RectificationTicket.objects.count() == 0


@pytest.mark.django_db
def test_the_limit_is_the_setting_and_a_form_under_it_goes_through(officer_client, huji, settings):
    url = reverse("ticket_new")
    data = {
        "town": huji.code,
        "village": huji.villages.order_by("code").first().code,
        "description": "村口垃圾堆放",
        "photos": [jpeg_upload()],
    }
    settings.REQUEST_MAX_BYTES = 1000  # smaller than this form with its photo
    refused = officer_client.post(url, data)
    assert refused.status_code == 413
    assert (RectificationTicket.objects.count(), EvidencePhoto.objects.count()) == (0, 0)

    settings.REQUEST_MAX_BYTES = 10 * MB
    data["photos"] = [jpeg_upload()]
    assert officer_client.post(url, data).status_code == 303
    assert (RectificationTicket.objects.count(), EvidencePhoto.objects.count()) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_a_real_server_answers_413_to_the_headers_alone(live_server, hj_officer, client):
    """Over a socket: only the headers of a 100 MB POST are sent, and the answer comes back."""
    client.force_login(hj_officer)
    session = client.cookies["sessionid"].value
    address = urlsplit(live_server.url)
    head = (
        f"POST {reverse('ticket_new')} HTTP/1.1\r\n"
        f"Host: {address.hostname}:{address.port}\r\n"
        f"Cookie: sessionid={session}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {100 * MB}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = sock.makefile("rb")
        status_line = answer.readline()
        headers = {}
        while (line := answer.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = answer.read(int(headers["content-length"]))
    assert status_line.split()[1] == b"413"
    assert shown("Upload too large") in body.decode()

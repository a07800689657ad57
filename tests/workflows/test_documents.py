"""The one PDF path (core.pdf.render_pdf): Chinese comes out as text, not boxes; the
print stylesheet and media images are read from disk; nothing is fetched over the network."""

from __future__ import annotations

import logging

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from core.pdf import BASE_URL, LocalFetcher, render_pdf

DOCUMENT = """{% load static %}<!doctype html>
<html lang="zh-hans">
<head><link rel="stylesheet" href="{% static 'css/print.css' %}"></head>
<body>
  <h1>{{ title }}</h1>
  <p>{{ body }}</p>
  {% if photo %}<img src="{{ photo }}" style="width: 40mm">{% endif %}
</body>
</html>"""

A4_POINTS = (595.28, 841.89)
MM = 72 / 25.4  # points


@pytest.fixture(autouse=True)
def _document_template(settings):
    """The test's own template, so the rendering path is tested apart from any document."""
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [("django.template.loaders.locmem.Loader", {"doc.html": DOCUMENT})]
            },
        }
    ]


def render(**context) -> pdfium.PdfDocument:
    pdf = render_pdf(template_name="doc.html", context={"title": "", "body": ""} | context)
    assert pdf.startswith(b"%PDF-")
    return pdfium.PdfDocument(pdf)


def page_text(document) -> str:
    return document[0].get_textpage().get_text_range()


def image_count(document) -> int:
    return sum(1 for _ in document[0].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))


def test_chinese_text_is_extractable(caplog):
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        document = render(title="金乡县农村人居环境整治督办通知", body="胡集镇：请于十日内整改。")

    text = page_text(document)
    assert "金乡县农村人居环境整治督办通知" in text
    assert "胡集镇：请于十日内整改。" in text
    assert not caplog.records, [record.getMessage() for record in caplog.records]


def test_the_print_stylesheet_is_read_from_the_static_files():
    document = render(title="标题")

    width, height = document[0].get_size()
    assert (round(width, 2), round(height, 2)) == A4_POINTS
    # print.css's 15 mm margin, not WeasyPrint's default of 75 px (19.8 mm).
    left = document[0].get_textpage().get_charbox(0)[0]
    assert left == pytest.approx(15 * MM, abs=1)


@pytest.mark.django_db
def test_a_photo_is_read_through_the_storage(caplog, make_photo):
    photo = make_photo()  # its URL is the photo view's, behind the login: read from storage

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        document = render(photo=photo.display_url)

    assert image_count(document) == 1
    assert not caplog.records, [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize("url", ["http://example.com/photo.png", "file:///etc/hostname"])
def test_other_urls_are_refused_and_the_document_is_still_made(url, caplog):
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        document = render(title="通报", photo=url)

    assert "通报" in page_text(document)
    assert image_count(document) == 0
    assert any(url in record.getMessage() for record in caplog.records)


def test_the_fetcher_serves_static_files_and_refuses_the_rest():
    response = LocalFetcher().fetch(f"{BASE_URL}static/css/print.css")
    try:
        assert response.content_type == "text/css"
        assert b"@page" in response.read()
    finally:
        response.close()

    with pytest.raises(ValueError, match="only use static and media"):
        LocalFetcher().fetch("https://example.com/static/css/print.css")
    with pytest.raises(FileNotFoundError):
        LocalFetcher().fetch(f"{BASE_URL}static/css/no-such.css")


def test_weasyprint_does_not_make_pillow_accept_truncated_images():
    # WeasyPrint flips this process-wide on import; the evidence pipeline relies on it being off.
    from PIL import ImageFile

    import core.pdf  # noqa: F401

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False

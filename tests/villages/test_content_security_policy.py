"""Every response carries the Content-Security-Policy, and no page template needs what it
forbids: no inline script, no event-handler attribute, no inline style (the templates WeasyPrint
alone renders to PDF keep their <style>: a PDF runs no script and is not a page)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from config.settings import tile_source

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
APPS = ("villages", "workflows", "inspections", "core")
PDF_MAKERS = ("render_pdf", "cached_pdf")


def pdf_templates() -> set[str]:
    """The templates passed to core.pdf.render_pdf (or cached_pdf) anywhere in the code."""
    names = set()
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") in PDF_MAKERS:
                    for keyword in node.keywords:
                        if keyword.arg == "template_name":
                            if isinstance(keyword.value, ast.Constant):
                                names.add(keyword.value.value)
                            else:  # a conditional expression of two names
                                names |= {
                                    n.value
                                    for n in ast.walk(keyword.value)
                                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                                }
    return names


def page_templates() -> list[Path]:
    pdfs = pdf_templates()
    assert "inspections/labels.html" in pdfs and len(pdfs) >= 4, pdfs
    return [
        path
        for path in sorted(TEMPLATES.rglob("*.html"))
        if str(path.relative_to(TEMPLATES)) not in pdfs
    ]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
JS_URL = re.compile(r"href\s*=\s*[\"']\s*javascript:", re.I)


@pytest.mark.parametrize("pattern", [INLINE_SCRIPT, HANDLER, STYLE, JS_URL], ids=str)
def test_no_page_template_needs_what_the_policy_forbids(pattern):
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in page_templates()
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []


def test_every_response_carries_the_policy(client, task_force):
    for response in (
        client.get(reverse("login")),  # anonymous
        client.get("/no-such-page/"),  # an error page
    ):
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    client.force_login(task_force)
    policy = client.get(reverse("home"))["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (
            "https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}",
            "https://*.is.autonavi.com",
        ),
        ("https://tiles.example.gov.cn/{z}/{x}/{y}.png", "https://tiles.example.gov.cn"),
        ("", ""),
    ],
)
def test_the_map_tile_server_is_allowed_for_images(url, source):
    assert tile_source(url) == source

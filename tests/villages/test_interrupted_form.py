"""A form sent after the session ended keeps what was typed across the login (user testing: a
12-hour session that expired while a form was open sent the user to the login page and threw
the form away). villages/people/interrupted.py; the real-browser journey is at the end."""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.db import connections
from django.urls import reverse

from tests.factories import PASSWORD
from villages.people.interrupted import SESSION_KEY

NEW = "/tickets/new/"
TYPED = {
    "csrfmiddlewaretoken": "x" * 32,
    "site_label": "村东头坑塘",
    "description": "坑塘岸边堆放生活垃圾约两方，水面有漂浮物",
}


def kept_json(html: str) -> dict | None:
    found = re.search(r'<script id="kept-form" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1)) if found else None


def post_after_expiry(client, *, referer: str | None = "http://testserver" + NEW, **headers):
    if referer:
        headers["HTTP_REFERER"] = referer
    return client.post(NEW, TYPED, **headers)


@pytest.mark.django_db
def test_the_typed_form_is_back_on_its_page_after_the_login(client, inspector):
    response = post_after_expiry(client)

    location = urlsplit(response["Location"])
    assert response.status_code == 302 and location.path == reverse("login")
    assert parse_qs(location.query)["next"] == [NEW]  # the form's page
    kept = client.session[SESSION_KEY]
    assert ["description", TYPED["description"]] in kept["fields"]
    assert "csrfmiddlewaretoken" not in str(kept)

    logged_in = client.post(
        response["Location"], {"username": inspector.username, "password": PASSWORD}
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == NEW
    page = client.get(NEW).content.decode()
    restored = kept_json(page)
    assert restored["action"] == NEW and restored["files"] is False
    assert ["site_label", "村东头坑塘"] in restored["fields"]
    assert "提交时登录已过期" in page
    # Once: a later visit shows the empty form.
    assert kept_json(client.get(NEW).content.decode()) is None


@pytest.mark.django_db
def test_nothing_is_kept_from_elsewhere_or_for_the_field_queue(client):
    # A Referer of another site: the login goes to the form's action, as before; nothing kept.
    response = post_after_expiry(client, referer="https://evil.example/tickets/new/")
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [NEW]
    assert SESSION_KEY not in client.session
    # Without a Referer there is no page to go back to.
    post_after_expiry(client, referer=None)
    assert SESSION_KEY not in client.session
    # The field queue posts for JSON and keeps its records on the phone itself.
    post_after_expiry(client, HTTP_ACCEPT="application/json")
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_a_kept_form_is_only_for_its_page_and_never_holds_a_password(client, inspector):
    client.post(
        reverse("password_change"),
        {"old_password": "secret-1", "new_password1": "n3w-Secret!", "note": "x"},
        HTTP_REFERER="http://testserver/accounts/password/",
    )
    kept = client.session[SESSION_KEY]
    assert kept["fields"] == [["note", "x"]]
    client.force_login(inspector)
    assert kept_json(client.get(reverse("home")).content.decode()) is None  # another page
    assert SESSION_KEY in client.session


# --- in a real browser ----------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_session_ends_while_the_form_is_open(live_server, monkeypatch, inspector):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
    base = live_server.url
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.goto(f"{base}/accounts/login/?next={NEW}")
        page.fill("#id_username", inspector.username)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        page.fill("textarea[name=description]", TYPED["description"])
        page.fill("input[name=site_label]", TYPED["site_label"])
        town = page.select_option("#id_town", index=2)

        Session.objects.all().delete()  # the 12 hours are over
        with page.expect_navigation():
            page.click("main form.stacked button[type=submit]")
        assert urlsplit(page.url).path == reverse("login")
        page.fill("#id_username", inspector.username)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click("main form button[type=submit]")

        assert urlsplit(page.url).path == NEW
        page.wait_for_selector("#kept-form-note:not([hidden])")
        assert page.input_value("textarea[name=description]") == TYPED["description"]
        assert page.input_value("input[name=site_label]") == TYPED["site_label"]
        assert [page.input_value("#id_town")] == town
        assert "重新提交" in page.inner_text("#kept-form-note")
        browser.close()
        connections.close_all()

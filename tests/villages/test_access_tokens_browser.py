"""The access tokens page in a real Chromium on a 360-px phone: a new token's secret fits the
screen and its copy button (static/js/access_tokens.js, no inline script under the site's CSP)
puts exactly the secret on the clipboard; revoking asks first, and a dismissed question revokes
nothing. The pages' rules are tests/villages/test_access_tokens_page.py."""

from __future__ import annotations

import hashlib

import pytest

from tests.factories import HUJI_CODE
from tests.workflows.test_phone_submit import (  # noqa: F401 — fixtures
    browser,
    log_in,
    no_horizontal_scroll,
)
from villages.access import Role
from villages.models import AccessToken

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def test_a_token_made_on_a_phone_is_copied_and_revoked_after_a_question(
    live_server,
    browser,  # noqa: F811
    task_force,
    huji,
):
    base = live_server.url
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    refused = []  # what the Content-Security-Policy blocked, as the console says
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    log_in(page, base, task_force.username, "/people/tokens/")
    assert no_horizontal_scroll(page)

    page.fill("#id_name", "12345热线平台")
    page.select_option("#id_role", Role.TOWN_OFFICER)
    page.select_option("#id_town", HUJI_CODE)
    with page.expect_navigation() as made:
        page.click("form.token-form button[type=submit]")

    assert made.value.status == 201
    secret = page.inner_text("#token-secret").strip()
    token = AccessToken.objects.get()
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert no_horizontal_scroll(page)
    page.click("button[data-copy]")
    page.wait_for_function("document.querySelector('.copy-result').textContent !== ''")
    assert page.inner_text(".copy-result") == "已复制。"
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.goto(f"{base}/people/tokens/")
    assert no_horizontal_scroll(page)
    assert secret not in page.content()
    revoke = f"#token-{token.pk} form.revoke-form button[type=submit]"
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(revoke)
    page.wait_for_timeout(300)  # a submit would have started by now; none may
    token.refresh_from_db()
    assert token.revoked_at is None

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click(revoke)
    token.refresh_from_db()
    assert token.revoked_by == task_force
    assert "已撤销" in page.inner_text(f"#token-{token.pk}")
    assert no_horizontal_scroll(page)
    assert refused == []
    context.close()

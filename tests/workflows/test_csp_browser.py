"""The Content-Security-Policy in a real browser: Chromium loads the pages that run scripts (the
map, the scan page, a ticket with its action forms, the dashboard's charts, a notice's print
button, the people page) under the policy every response carries, and reports no violation —
so no page needs inline script or style. The control at the end proves a violation is seen."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.inspections.conftest import _media, huji_site  # noqa: F401 — fixtures
from tests.workflows.test_phone_submit import DESK, browser, log_in  # noqa: F401 — fixtures

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def violations_recorder(page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_pages_run_under_the_policy_without_a_violation(
    live_server,
    browser,  # noqa: F811
    huji_site,  # noqa: F811
    submitted,
    task_force,
):
    base = live_server.url
    page = browser.new_context(viewport=DESK, locale="zh-CN").new_page()
    seen = violations_recorder(page)
    log_in(page, base, task_force.username, "/")
    paths = [
        reverse("home"),
        reverse("dashboard"),
        reverse("site_map"),
        reverse("site_list"),
        f"/s/{huji_site.token}",
        reverse("ticket_detail", args=[submitted.number]),
        reverse("ticket_list"),
        reverse("person_list"),
        reverse("person_new"),
        reverse("bulletin_list"),
    ]
    for path in paths:
        response = page.goto(base + path)
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        page.wait_for_load_state("networkidle")
    assert seen == []

    # The control: an inline script added to the page is refused, and the refusal is seen.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = 1'; document.body.appendChild(s); }"
        )
    assert page.evaluate("() => window.ran") is None
    assert seen and "script-src" in seen[0]

"""In a real browser (static/js/bulletin_issue.js): "Issue the bulletin" asks in a dialog that
states the number and the item count; dismissed, nothing is sent; accepted, the bulletin is
issued with the confirmation the page stated. Debian's chromium through Playwright."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.workflows.test_phone_submit import (  # noqa: F401 — the fixture and its URLconf
    browser,
    log_in,
    urlpatterns,
)
from workflows.bulletins import services as svc
from workflows.models import Bulletin
from workflows.tickets import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_issue_button_asks_in_a_dialog(
    live_server,
    browser,  # noqa: F811 — the fixture imported above
    huji,
    huji_village,
    inspector,
    task_force,
    make_photo,
    deadline,
):
    tickets = [
        services.rectification_create(
            by=inspector, town=huji, village=huji_village, description=f"问题{i}",
            source_kind="patrol", before_photos=[make_photo(inspector)],
        )
        for i in range(2)
    ]  # fmt: skip
    bulletin = svc.bulletin_create(
        by=task_force, kind="problems", title="关于问题的通报", default_deadline=deadline
    )
    svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=tickets)
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    path = reverse("bulletin_detail", args=[bulletin.pk])
    log_in(page, live_server.url, task_force.username, path)
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("form.issue-form button[type=submit]")
    page.wait_for_timeout(300)
    assert Bulletin.objects.get(pk=bulletin.pk).state == "draft"
    assert f"〔{bulletin.year}〕第1批" in dialogs[0] and "2" in dialogs[0]  # number, items

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_navigation():
        page.click("form.issue-form button[type=submit]")

    assert dialogs[1] == dialogs[0]
    issued = Bulletin.objects.get(pk=bulletin.pk)
    assert (issued.state, issued.batch) == ("issued", 1)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()

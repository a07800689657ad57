"""The whole story in real browsers, against one live server: an inspector's phone scans a water
site's QR label and reports a problem, the county task force assigns the ticket at its desk, the
town officer of 胡集镇 rectifies on his phone, the task force sends it back once, the officer
rectifies again and the task force closes it (销号). Screenshots of every step go to
test-artifacts/story/ (the folder is printed at the end).

The county keeps the shipped patrol policy: a ticket from a patrol is a draft (待交办) that the
task force reviews and assigns with a deadline — a county that trusts its inspectors could set
"assigned at once" instead, but then nobody at the county looks at a finding before the town is
ordered to act. So the task force's first desk step here is 交办.

The patrol's result is 发现问题 (garbage on the banks), not 疑似反弹: the site stays 已验收·管护中
all along, and closing the ticket (inspections.sites.services.on_ticket_closed) must leave it there
and drop the ticket from the site's open tickets. The rebound path is in
tests/inspections/test_phone_patrol.py.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext, override
from PIL import Image

from inspections.models import Patrol, PatrolResult, SiteState
from tests.factories import PASSWORD
from tests.inspections.conftest import (  # noqa: F401 — fixtures (_media: photos in tmp_path)
    HUJI_SITE,
    _media,
    huji_site,
    moved,
)
from tests.workflows.test_phone_submit import (  # noqa: F401 — fixtures
    DESK,
    PHONE,
    browser,
    log_in,
    no_horizontal_scroll,
    photo_file,
)
from workflows.models import RectificationState, RectificationTicket, TicketEvent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "story"
PATROL_NOTE = "东岸堆放生活垃圾约两方，水面有塑料漂浮物"
ASSIGN_NOTE = "请胡集镇于期限内清理岸边垃圾和漂浮物"
FIRST_FIX = "已清理东岸垃圾"
REJECT_REASON = "水面漂浮物仍未打捞，请一并整改后再提交"
SECOND_FIX = "已打捞水面漂浮物，东岸设置垃圾桶两个并落实村保洁员每日巡查"


def zh(msgid: str) -> str:
    with override("zh-hans"):
        return gettext(msgid)


def state_label(state: str) -> str:
    with override("zh-hans"):
        return str(RectificationState(state).label)


def done_message(number: str, action_msgid: str) -> str:
    return zh("%(number)s: %(action)s — done.") % {"number": number, "action": zh(action_msgid)}


class Shots:
    """Numbered full-page screenshots, in the order the story happens."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.taken: list[Path] = []

    def __call__(self, page, name: str, *, full_page: bool = True) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=path, full_page=full_page)
        self.taken.append(path)


@pytest.fixture
def shots(capsys):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    yield Shots(ARTIFACTS)
    with capsys.disabled():  # shown on a passing run too: the folder is what one looks at
        print(f"\nscreenshots of the story: {ARTIFACTS}")


def _jpeg(path: Path, background, patch) -> Path:
    image = Image.new("RGB", (1200, 900), background)
    image.paste(patch, (250, 150, 950, 750))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def after_photos(tmp_path) -> tuple[Path, Path]:
    """The officer's two after-photos (first and second submission), distinct files."""
    return (
        _jpeg(tmp_path / "IMG_20250605_101500.jpg", (80, 130, 150), (120, 170, 90)),
        _jpeg(tmp_path / "IMG_20250607_163000.jpg", (60, 110, 160), (200, 200, 200)),
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def phone_context(browser, **options):  # noqa: F811
    return browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        **options,
    )


def act(page, action: str, **fields) -> None:
    """Fill the action form `action` of a ticket page and send it (waits for the new page)."""
    form = page.locator(f"form#action-{action}")
    for name, value in fields.items():
        if name == "photos":
            form.locator("input[name=photos]").set_input_files(str(value))
        else:
            form.locator(f"[name={name}]").fill(value)
    form.scroll_into_view_if_needed()
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


def images_loaded(page, selector: str) -> None:
    """Waits until every image under `selector` has really arrived from the server (media)."""
    page.locator(selector).first.scroll_into_view_if_needed()
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
    )


def test_a_problem_found_on_patrol_is_rectified_sent_back_and_closed(
    live_server,
    browser,  # noqa: F811
    shots,
    photo_file,  # noqa: F811
    after_photos,
    huji_site,  # noqa: F811
    huji,
    inspector,
    task_force,
    hj_officer,
):
    base = live_server.url
    assert huji_site.state == SiteState.MAINTAINED

    # 1. The inspector on site: scan → login → back on the site → patrol → confirmation.
    lat, lng = moved(HUJI_SITE, north_m=40)
    inspector_phone = phone_context(
        browser,
        geolocation={"latitude": lat, "longitude": lng, "accuracy": 12},
        permissions=["geolocation"],
    )
    page = inspector_phone.new_page()
    ticket = _inspector_reports(page, base, shots, huji_site, inspector, photo_file)
    assert (ticket.town, ticket.village) == (huji, huji_site.village) and huji.name == "胡集镇"
    number, ticket_path = ticket.number, f"/tickets/{ticket.number}/"

    # 2. The task force at its desk finds the draft and assigns it to 胡集镇.
    desk = browser.new_context(viewport=DESK, locale="zh-CN").new_page()
    deadline = _task_force_assigns(desk, base, shots, number, task_force)

    # 3. The town officer on his phone: inbox → ticket → rectification with an after-photo.
    officer_phone = phone_context(browser)
    officer = officer_phone.new_page()
    _officer_submits_from_inbox(officer, base, shots, number, deadline, hj_officer, after_photos)

    # 4. The task force reviews and sends it back with a reason.
    desk.goto(base + ticket_path)
    assert desk.inner_text("#ticket-state") == state_label("submitted")
    images_loaded(desk, ".compare img")
    shots(desk, "desk-review-first")
    act(desk, "reject", reason=REJECT_REASON)
    assert desk.inner_text("#ticket-state") == state_label("rejected")
    assert done_message(number, "Send back") in desk.inner_text(".messages")
    shots(desk, "desk-sent-back")

    # 5. The officer sees why and submits again with a new photo.
    officer.reload()
    assert officer.inner_text("#ticket-state") == state_label("rejected")
    assert REJECT_REASON in officer.inner_text(".timeline")
    assert no_horizontal_scroll(officer)
    shots(officer, "phone-sent-back")
    act(officer, "submit", note=SECOND_FIX, photos=after_photos[1])
    assert officer.inner_text("#ticket-state") == state_label("submitted")
    assert done_message(number, "Submit for review") in officer.inner_text(".messages")
    shots(officer, "phone-resubmitted")
    officer_phone.close()

    # 6. The task force sees the new after-photo and closes the ticket.
    desk.goto(base + ticket_path)
    after = desk.locator(".compare > div").nth(1).locator("img")
    assert after.count() == 1 and after_photos[1].name in after.get_attribute("alt")
    assert SECOND_FIX in desk.locator("section.card", has=desk.locator(".compare")).inner_text()
    images_loaded(desk, ".compare img")
    shots(desk, "desk-review-second")
    act(desk, "close")
    assert desk.inner_text("#ticket-state") == state_label("closed")
    assert done_message(number, "Close") in desk.inner_text(".messages")
    assert desk.locator("form.action-form").count() == 0  # nothing left to do on it
    shots(desk, "desk-closed")
    desk.context.close()

    # 7. Back at the site: maintained, no open ticket.
    page.goto(f"{base}/s/{huji_site.token}")
    assert zh("accepted, maintained (已验收·管护中)") in page.inner_text("h1")
    assert zh("Open tickets of this site") not in page.inner_text("main")
    assert page.locator(f"ul.patrols a.code:text-is('{number}')").count() == 1  # the patrol
    shots(page, "site-after")
    inspector_phone.close()

    _assert_stored(ticket, huji_site, inspector, task_force, hj_officer, photo_file, after_photos)
    assert sorted(ARTIFACTS.glob("*.png")) == shots.taken


def _inspector_reports(page, base, shots, site, inspector, patrol_photo) -> RectificationTicket:
    scan = f"/s/{site.token}"
    page.goto(base + scan)  # what the phone's camera opens
    redirected = urlsplit(page.url)
    assert redirected.path == "/accounts/login/"
    assert parse_qs(redirected.query)["next"] == [scan]
    shots(page, "phone-login")
    page.fill("#id_username", inspector.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")  # not the language switcher's button
    assert page.url == base + scan
    assert site.name in page.inner_text("h1")
    page.wait_for_function("document.querySelector('input[name=lat]').value !== ''")
    found = zh("You are {distance} from the site (GPS accuracy {accuracy} m).")
    assert page.inner_text(".gps-status") == found.format(distance="40 米", accuracy=12)
    assert no_horizontal_scroll(page)
    shots(page, "phone-site")

    page.check(f"input[name=result][value={PatrolResult.PROBLEM}]")
    page.check("input[name=checks][value=bank_garbage]")
    page.check("input[name=checks][value=floating_debris]")
    page.fill("textarea[name=note]", PATROL_NOTE)
    page.locator("input[name=photos]").first.set_input_files(str(patrol_photo))
    page.wait_for_selector(".photo-previews figure img")
    page.locator("form.patrol-form button[type=submit]").scroll_into_view_if_needed()
    shots(page, "phone-patrol-filled")
    with page.expect_navigation():
        page.locator("form.patrol-form button[type=submit]").click()

    patrol = Patrol.objects.get()
    assert page.url.endswith(f"/patrols/{patrol.pk}/")
    ticket = patrol.ticket
    assert ticket is not None and ticket.state == RectificationState.DRAFT
    messages = page.inner_text(".messages")
    assert zh("Patrol recorded.") in messages
    assert zh("Rectification ticket %(number)s.") % {"number": ticket.number} in messages
    assert zh("problem found (发现问题)") in page.inner_text("h1")
    assert state_label("draft") in page.inner_text("dl.facts")
    assert no_horizontal_scroll(page)
    shots(page, "phone-patrol-recorded")

    page.click(f"dd a:has-text('{ticket.number}')")
    page.wait_for_url(f"**/tickets/{ticket.number}/")
    assert page.inner_text("#ticket-state") == state_label("draft")
    assert "胡集镇" in page.inner_text("dl.facts")
    assert page.locator(".compare img").count() == 1  # the patrol's photo is the before-photo
    shots(page, "phone-ticket-draft")

    page.goto(base + scan)  # the next inspector at this site sees the open ticket
    open_tickets = page.locator(
        "section.card", has=page.locator(f"h2:text-is('{zh('Open tickets of this site')}')")
    )
    assert f"{ticket.number} {state_label('draft')}" in open_tickets.inner_text()
    return ticket


def _task_force_assigns(page, base, shots, number, task_force):
    log_in(page, base, task_force.username, "/tickets/")
    row = page.locator("table.tickets tr", has=page.locator(f"a:text-is('{number}')"))
    assert state_label("draft") in row.inner_text()
    assert "胡集镇" in row.inner_text()
    shots(page, "desk-list")
    page.click(f"a.code:text-is('{number}')")
    page.wait_for_url(f"**/tickets/{number}/")
    deadline = timezone.localdate() + timedelta(days=15)
    act(page, "assign", deadline=deadline.isoformat(), note=ASSIGN_NOTE)
    assert page.inner_text("#ticket-state") == state_label("assigned")
    assert done_message(number, "Assign") in page.inner_text(".messages")
    assert deadline.isoformat() in page.inner_text("dl.facts")
    shots(page, "desk-assigned")
    return deadline


def _officer_submits_from_inbox(page, base, shots, number, deadline, officer, after_photos):
    log_in(page, base, officer.username, "/tickets/")
    row = page.locator("table.tickets tr", has=page.locator(f"a:text-is('{number}')"))
    assert state_label("assigned") in row.inner_text()
    assert deadline.isoformat() in row.inner_text()
    assert no_horizontal_scroll(page)
    shots(page, "phone-inbox")
    page.click(f"a.code:text-is('{number}')")
    page.wait_for_url(f"**/tickets/{number}/")
    assert page.inner_text("#ticket-state") == state_label("assigned")
    assert ASSIGN_NOTE in page.inner_text(".timeline")
    shots(page, "phone-ticket")
    act(page, "submit", note=FIRST_FIX, photos=after_photos[0])
    assert page.inner_text("#ticket-state") == state_label("submitted")
    assert done_message(number, "Submit for review") in page.inner_text(".messages")
    assert no_horizontal_scroll(page)
    shots(page, "phone-submitted")


def _assert_stored(ticket, site, inspector, task_force, officer, patrol_photo, after_photos):
    ticket.refresh_from_db()
    assert ticket.state == RectificationState.CLOSED
    assert ticket.rectification_note == SECOND_FIX
    events = list(TicketEvent.objects.filter(rectification=ticket).order_by("at", "id"))
    assert [(e.action, e.from_state, e.to_state, e.actor) for e in events] == [
        ("create", "", "draft", inspector),
        ("assign", "draft", "assigned", task_force),
        ("submit", "assigned", "submitted", officer),
        ("reject", "submitted", "rejected", task_force),
        ("submit", "rejected", "submitted", officer),
        ("close", "submitted", "closed", task_force),
    ]
    assert [e.note for e in events[1:5]] == [ASSIGN_NOTE, FIRST_FIX, REJECT_REASON, SECOND_FIX]

    patrol = Patrol.objects.get()
    assert (patrol.result, patrol.bank_garbage, patrol.floating_debris) == ("problem", True, True)
    assert not patrol.flagged and abs(patrol.distance_m - 40) < 1
    assert patrol.note == PATROL_NOTE and patrol.ticket_id == ticket.pk
    # Each upload is stored once, with its source's hash: the browser sent the files we chose.
    first, second = after_photos
    for event, file in [(events[0], patrol_photo), (events[2], first), (events[4], second)]:
        (photo,) = event.photos.all()
        assert (photo.original_name, photo.sha256) == (file.name, sha256(file))
        assert (photo.width, photo.height) == (1200, 900)
        assert photo.display.storage.exists(photo.display.name)
        assert photo.thumbnail.storage.exists(photo.thumbnail.name)
    assert (
        list(patrol.photos.all())
        == list(ticket.before_photos.all())
        == list(events[0].photos.all())
    )

    site.refresh_from_db()
    assert site.state == SiteState.MAINTAINED

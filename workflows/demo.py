"""Demo tickets for `make demo`: a realistic spread over the county's towns, in every state.

Every ticket goes through the real services (numbers, events, photos, checks) as the users
would move it. The services stamp each step with the time they run, so every ticket would have
lived its whole life within a second; afterwards each is given a history (demo_history_write):
its steps spread over hours (toilet jobs) or days (rectification), in office hours, over the
past year. Photos are generated scenes (no real people), processed by the real evidence
pipeline, and shared between tickets so the demo stays small.
"""

from __future__ import annotations

import io
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from villages.models import Household, Town
from workflows.evidence.services import evidence_photo_create
from workflows.models import EvidencePhoto, RectificationTicket, TicketEvent, ToiletTicket
from workflows.tickets import services
from workflows.tickets.services import toilet_sla_due

C = ToiletTicket.Channel
CHANNELS = [C.PHONE, C.VILLAGE_ADMIN, C.QR, C.PATROL]

PROBLEMS = [
    "河道岸边堆放生活垃圾",
    "坑塘水面漂浮物较多",
    "沟渠水体发黑有异味",
    "新增排污口未登记",
    "公示牌破损、信息不全",
    "村内柴草乱堆乱放",
    "垃圾桶满溢未及时清运",
    "旱厕未拆除",
    "道路两侧建筑垃圾未清理",
    "畜禽粪污直排沟渠",
    "废旧轮胎堆放河边",
    "墙面小广告未清理",
]
NOTES = ["已组织人员清理完毕", "已清运并设立警示牌", "已封堵排污口并登记", "已更换公示牌"]
DISPOSAL_SITES = ["金乡县污水处理厂", "胡集镇粪污处理站", "鸡黍镇资源化利用中心"]

# Share of rectification tickets that end in each state (the rest stay draft).
RECT_PATHS = [
    ("closed", 0.45),
    ("submitted", 0.12),
    ("assigned", 0.17),
    ("extended", 0.03),
    ("rejected", 0.05),
    ("extension_requested", 0.04),
    ("cancelled", 0.04),
    ("draft", 0.10),
]
TOILET_PATHS = [
    ("confirmed", 0.55),
    ("done", 0.10),
    ("in_service", 0.06),
    ("accepted", 0.05),
    ("dispatched", 0.08),
    ("reported", 0.08),
    ("returned", 0.04),
    ("cancelled", 0.04),
]


@dataclass
class Staff:
    task_force: object
    inspector: object
    officers: dict  # town code → town officer
    workers: dict  # town code → service worker


def demo_photos(*, count: int, rng: random.Random, by) -> list[EvidencePhoto]:
    return [evidence_photo_create(file=_scene(i, rng), uploaded_by=by) for i in range(count)]


def _scene(index: int, rng: random.Random) -> SimpleUploadedFile:
    """A simple landscape: sky, a field or water, a bank, a few objects."""
    image = Image.new("RGB", (960, 720), (rng.randint(150, 200), rng.randint(190, 220), 235))
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(260, 380)
    water = (rng.randint(40, 90), rng.randint(70, 110), rng.randint(60, 100))
    draw.rectangle((0, horizon, 960, 720), fill=water)
    draw.polygon(
        [(0, horizon), (960, horizon - 40), (960, horizon + 60), (0, horizon + 90)],
        fill=(rng.randint(90, 130), rng.randint(120, 160), 60),
    )
    for _ in range(rng.randint(3, 9)):
        x, y = rng.randint(0, 900), rng.randint(horizon, 680)
        size = rng.randint(10, 60)
        colour = tuple(rng.randint(60, 255) for _ in range(3))
        draw.ellipse((x, y, x + size, y + size // 2), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return SimpleUploadedFile(f"demo-{index:03d}.jpg", buffer.getvalue(), "image/jpeg")


def _pick(paths, rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for state, share in paths:
        total += share
        if roll < total:
            return state
    return paths[-1][0]


def demo_rectifications_seed(*, staff: Staff, count: int, rng, photos) -> int:
    towns = list(Town.objects.prefetch_related("villages"))
    histories: dict[int, History] = {}
    for _ in range(count):
        town = rng.choice(towns)
        village = rng.choice([v for v in town.villages.all() if v.level == "administrative"])
        with transaction.atomic():
            ticket = services.rectification_create(
                by=staff.inspector,
                town=town,
                village=village,
                description=rng.choice(PROBLEMS),
                source_kind=rng.choice(["patrol", "patrol", "assessment", "bulletin", "report"]),
                site_label=f"{village.short_name}{rng.choice(['东', '西', '南', '北'])}坑塘",
                before_photos=[rng.choice(photos)],
                priority=rng.choice(["normal"] * 4 + ["urgent"]),
            )
            goal = _pick(RECT_PATHS, rng)
            _move_rectification(ticket, goal, staff, rng, photos)
        # Finished tickets spread over the year; running ones are recent (a few overdue).
        finished = goal in ("closed", "cancelled")
        days_back = rng.randint(20, 330) if finished else rng.randint(0, 40)
        histories[ticket.pk] = demo_history(rng, gaps=RECTIFICATION_GAPS, days_back=days_back)
    demo_history_write(RectificationTicket, histories)
    return count


def _move_rectification(ticket, goal: str, staff: Staff, rng, photos) -> None:
    if goal == "draft":
        return
    county, officer = staff.task_force, staff.officers[ticket.town_id]
    deadline = timezone.localdate() + timedelta(days=rng.choice([7, 15, 30]))
    services.rectification_assign(ticket=ticket, by=county, deadline=deadline)
    if goal == "cancelled":
        services.rectification_cancel(ticket=ticket, by=county, reason="经核实与已有工单重复")
        return
    if goal in ("extension_requested", "extended"):
        services.rectification_request_extension(
            ticket=ticket,
            by=officer,
            new_deadline=deadline + timedelta(days=15),
            reason="需协调施工队伍，申请延期",
        )
        if goal == "extended":
            services.rectification_approve_extension(ticket=ticket, by=county, note="同意延期")
        return
    if goal == "assigned":
        return
    services.rectification_submit(
        ticket=ticket, by=officer, note=rng.choice(NOTES), photos=[rng.choice(photos)]
    )
    if goal == "rejected":
        services.rectification_reject(ticket=ticket, by=county, reason="整改后照片不清晰，请补充")
    elif goal == "closed":
        services.rectification_close(ticket=ticket, by=county, note="现场核验合格")


def demo_toilet_seed(*, staff: Staff, count: int, rng, photos) -> int:
    households = list(Household.objects.select_related("village"))
    histories: dict[int, History] = {}
    for _ in range(count):
        household = rng.choice(households)
        with transaction.atomic():
            ticket = services.toilet_report(
                by=staff.officers[household.village.town_id],
                household=household,
                kind=rng.choice(["pumping"] * 8 + ["repair", "unblocking"]),
                channel=rng.choice(CHANNELS),
            )
            goal = _pick(TOILET_PATHS, rng)
            _move_toilet(ticket, goal, staff, rng, photos)
        finished = goal in ("confirmed", "cancelled")
        days_back = rng.randint(3, 360) if finished else rng.randint(0, 6)
        histories[ticket.pk] = demo_history(rng, gaps=TOILET_GAPS, days_back=days_back)
    demo_history_write(ToiletTicket, histories)
    return count


def _move_toilet(ticket, goal: str, staff: Staff, rng, photos) -> None:
    officer, worker = staff.officers[ticket.town_id], staff.workers[ticket.town_id]
    if goal == "reported":
        return
    if goal == "cancelled":
        services.toilet_cancel(ticket=ticket, by=officer, reason="农户已自行处理")
        return
    services.toilet_dispatch(ticket=ticket, by=officer, worker=worker)
    if goal == "returned":
        services.toilet_return(ticket=ticket, by=worker, reason="抽粪车检修，请改派")
        return
    steps = ["accept", "start", "complete", "confirm"]
    target = {"dispatched": 0, "accepted": 1, "in_service": 2, "done": 3, "confirmed": 4}[goal]
    for step in steps[:target]:
        _toilet_step(step, ticket, officer, worker, rng, photos)


def _toilet_step(step, ticket, officer, worker, rng, photos) -> None:
    if step == "accept":
        services.toilet_accept(ticket=ticket, by=worker)
    elif step == "start":
        services.toilet_start(ticket=ticket, by=worker)
    elif step == "complete":
        pumping = ticket.kind == ToiletTicket.Kind.PUMPING
        services.toilet_complete(
            ticket=ticket,
            by=worker,
            photos=[rng.choice(photos)],
            volume_m3=Decimal(rng.randint(15, 40)) / 10 if pumping else None,
            disposal_site=rng.choice(DISPOSAL_SITES) if pumping else "",
            parts_used="" if pumping else rng.choice(["冲水阀", "便器", "通风管", "无"]),
        )
    else:
        services.toilet_confirm(
            ticket=ticket, by=officer, satisfaction=rng.choice(["satisfied"] * 5 + ["fairly"])
        )


# --- when it all happened ---------------------------------------------------------------------
#
# A history gives each step of a ticket its time: the steps follow one another by the usual
# delays (RECTIFICATION_GAPS, TOILET_GAPS), in office hours, and the last one falls `days_back`
# days before today. The ticket's own timestamps are then those of the steps that set them, and
# its deadlines move with its assignment: assigned today for 15 days before, assigned on the new
# day for 15 days after — on the ticket and in the steps' details alike, so the header's 整改时限
# and the timeline's 交办 step say the same.

OFFICE_OPENS, OFFICE_CLOSES = time(8, 0), time(18, 0)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# Time from the previous step to this one: (shortest, longest).
RECTIFICATION_GAPS = {
    "assign": (HOUR, 2 * DAY),
    "request_extension": (2 * DAY, 5 * DAY),
    "approve_extension": (DAY, 3 * DAY),
    "refuse_extension": (DAY, 3 * DAY),
    "withdraw_extension": (2 * HOUR, 3 * DAY),
    "submit": (DAY, 7 * DAY),  # after being sent back or an extension; see _submit_gap
    "reject": (DAY, 4 * DAY),
    "close": (DAY, 6 * DAY),
    "cancel": (DAY, 10 * DAY),
}
TOILET_GAPS = {
    "dispatch": (timedelta(minutes=20), 8 * HOUR),
    "accept": (timedelta(minutes=5), 3 * HOUR),
    "start": (timedelta(minutes=30), 20 * HOUR),
    "complete": (timedelta(minutes=40), 4 * HOUR),
    "confirm": (DAY, 3 * DAY),
    "reopen": (DAY, 3 * DAY),
    "return_for_redispatch": (HOUR, 12 * HOUR),
    "cancel": (HOUR, 2 * DAY),
}
OTHER_GAP = (HOUR, DAY)
LATE_SHARE = 0.2  # towns that submit after the deadline
# The ticket's timestamps and the step that sets each (the latest such step); fields a model
# lacks are skipped.
STAMPS = {
    RectificationTicket: {
        "assigned_at": "assign",
        "submitted_at": "submit",
        "closed_at": "close",
        "extension_requested_at": "request_extension",
    },
    ToiletTicket: {
        "dispatched_at": "dispatch",
        "completed_at": "complete",
        "confirmed_at": "confirm",
    },
}
DEADLINES = {RectificationTicket: ["deadline", "requested_deadline"], ToiletTicket: []}
CHUNK = 500

# A ticket's steps (its events, oldest first) → when each happened.
History = Callable[[list[TicketEvent]], list[datetime]]


def demo_history(
    rng: random.Random,
    *,
    gaps: dict,
    days_back: int | None = None,
    start: datetime | None = None,
    fixed: dict[str, datetime] | None = None,
) -> History:
    """Steps spread by `gaps` from `start`, or ending `days_back` days before today; `fixed`
    pins a step to a time (a bulletin's tickets are assigned when it is issued)."""

    def history(events: list[TicketEvent]) -> list[datetime]:
        first = start or _office_time(timezone.localdate(), rng)
        times = [first]
        allowed = _deadline_days(events)
        for previous, event in itertools.pairwise(events):
            if fixed and event.action in fixed:
                times.append(fixed[event.action])
                continue
            gap = _gap(event.action, previous.action, gaps, allowed, rng)
            times.append(_in_office_hours(times[-1] + gap, rng))
        return times if days_back is None else _ending(times, days_back=days_back)

    return history


def _gap(step: str, previous: str, gaps: dict, allowed: int | None, rng) -> timedelta:
    if step == "submit" and previous == "assign" and allowed:
        # Most towns finish within the deadline; some are late.
        days = (
            allowed + rng.randint(1, 10) if rng.random() < LATE_SHARE else rng.randint(1, allowed)
        )
        return timedelta(days=days, minutes=rng.randint(-180, 180))
    shortest, longest = gaps.get(step, OTHER_GAP)
    return shortest + (longest - shortest) * rng.random()


def _deadline_days(events: list[TicketEvent]) -> int | None:
    """Days the assignment gave (deadline − day of assignment), before any history."""
    for event in events:
        if event.action == "assign" and event.data.get("deadline"):
            given = date.fromisoformat(event.data["deadline"])
            return max(1, (given - timezone.localdate(event.at)).days)
    return None


def _office_time(day: date, rng: random.Random) -> datetime:
    minutes = rng.randint(0, 90)
    return timezone.make_aware(datetime.combine(day, OFFICE_OPENS)) + timedelta(minutes=minutes)


def _in_office_hours(at: datetime, rng: random.Random) -> datetime:
    """`at`, or the next morning's opening (plus a little) when it falls outside office hours."""
    local = timezone.localtime(at)
    if OFFICE_OPENS <= local.time() < OFFICE_CLOSES:
        return at
    day = local.date() + (DAY if local.time() >= OFFICE_CLOSES else timedelta(0))
    return _office_time(day, rng)


def _ending(times: list[datetime], *, days_back: int) -> list[datetime]:
    """`times` moved by whole days (times of day kept) so that the last falls `days_back` days
    before today — a day earlier if that is still to come."""
    now = timezone.now()
    last = timezone.localtime(times[-1])
    move = timezone.localdate(now) - timedelta(days=days_back) - last.date()
    if times[-1] + move > now:
        move -= DAY
    return [at + move for at in times]


def demo_history_write(model, histories: dict[int, History]) -> None:
    """Give each ticket of `histories` its history: its events' times, its timestamps and its
    deadlines. A few bulk UPDATEs per CHUNK tickets, not several per ticket."""
    pks = sorted(histories)
    for first in range(0, len(pks), CHUNK):
        _chunk_write(model, pks[first : first + CHUNK], histories)


def _chunk_write(model, pks: list[int], histories: dict[int, History]) -> None:
    link = "rectification_id" if model is RectificationTicket else "toilet_id"
    events = defaultdict(list)
    steps = TicketEvent.objects.filter(**{f"{link}__in": pks}).order_by("id")
    for event in steps.only("id", link, "action", "at", "data"):
        events[getattr(event, link)].append(event)
    tickets = list(model.objects.filter(pk__in=pks))
    for ticket in tickets:
        steps = events[ticket.pk]
        _relive(ticket, steps, histories[ticket.pk](steps))
    stamps = [name for name in STAMPS[model] if _has_field(model, name)]
    fields = ["created_at", "updated_at", *stamps, *DEADLINES[model]]
    if model is ToiletTicket:
        fields.append("sla_due_at")
    with transaction.atomic():
        _rows_update(TicketEvent, [e for steps in events.values() for e in steps], ["at", "data"])
        _rows_update(model, tickets, fields)


def _rows_update(model, rows: list, names: list[str]) -> None:
    """UPDATE … SET <names> WHERE id = … for each row, as one executemany: bulk_update's CASE
    expressions cost ~25 ms a ticket to build (3 of the demo's 4 minutes instead of 1 s)."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    params = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _has_field(model, name: str) -> bool:
    return any(field.name == name for field in model._meta.concrete_fields)


def _relive(ticket, events: list[TicketEvent], times: list[datetime]) -> None:
    model = type(ticket)
    moved = _days_moved(events, times)
    for event, at in zip(events, times, strict=True):
        event.at = at
        event.data = _deadlines_moved(event.data, moved)
    ticket.created_at, ticket.updated_at = times[0], times[-1]
    for name, action in STAMPS[model].items():
        if getattr(ticket, name, None) is not None:
            setattr(ticket, name, max(e.at for e in events if e.action == action))
    for name in DEADLINES[model]:
        if getattr(ticket, name) is not None:
            setattr(ticket, name, getattr(ticket, name) + moved)
    if model is ToiletTicket:
        ticket.sla_due_at = toilet_sla_due(
            kind=ticket.kind, reported_at=ticket.created_at, town=ticket.town_id
        )


def _days_moved(events: list[TicketEvent], times: list[datetime]) -> timedelta:
    """How many local days the (first) assignment moved: its deadlines move as many."""
    for event, at in zip(events, times, strict=True):
        if event.action == "assign":
            return timezone.localdate(at) - timezone.localdate(event.at)
    return timedelta(0)


def _deadlines_moved(data: dict, moved: timedelta) -> dict:
    """The step's details with every date named …deadline moved by `moved`."""
    return {
        key: (date.fromisoformat(value) + moved).isoformat()
        if key.endswith("deadline") and isinstance(value, str) and value
        else value
        for key, value in data.items()
    }

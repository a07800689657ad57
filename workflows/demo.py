"""Demo tickets for `make demo`: a realistic spread over the county's towns, in every state.

Every ticket goes through the real services (numbers, events, photos, checks) as the users
would move it; afterwards the timestamps are spread back over the past months with a few
set-based UPDATEs so lists, overdue badges and ledgers look like a year of work. Photos are
generated scenes (no real people), processed by the real evidence pipeline, and shared between
tickets so the demo stays small.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image, ImageDraw

from villages.models import Household, Town
from workflows.evidence.services import evidence_photo_create
from workflows.models import EvidencePhoto, RectificationTicket, TicketEvent, ToiletTicket
from workflows.tickets import services

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
    ("assigned", 0.20),
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
        _backdate(ticket, rng, days_back=rng.randint(20, 330) if finished else rng.randint(0, 40))
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
    if goal == "extension_requested":
        services.rectification_request_extension(
            ticket=ticket,
            by=officer,
            new_deadline=deadline + timedelta(days=15),
            reason="需协调施工队伍，申请延期",
        )
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
        _backdate(ticket, rng, days_back=rng.randint(3, 360) if finished else rng.randint(0, 6))
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


def _backdate(ticket, rng, *, days_back: int) -> None:
    """Move the ticket and its events `days_back` days into the past, keeping their order and
    spacing; running tickets keep a deadline relative to their (new) assignment date, so some
    become overdue, as in real life."""
    shift = timedelta(days=days_back, minutes=rng.randint(0, 600))
    model = type(ticket)
    fields = (
        ["created_at", "assigned_at", "submitted_at", "closed_at"]
        if model is (RectificationTicket)
        else ["created_at", "sla_due_at", "dispatched_at", "completed_at", "confirmed_at"]
    )
    instance = model.objects.filter(pk=ticket.pk)
    instance.update(**{name: F(name) - shift for name in fields})
    if model is RectificationTicket:
        instance.filter(deadline__isnull=False).update(deadline=F("deadline") - shift)
        instance.filter(requested_deadline__isnull=False).update(
            requested_deadline=F("requested_deadline") - shift
        )
        events = TicketEvent.objects.filter(rectification=ticket)
    else:
        events = TicketEvent.objects.filter(toilet=ticket)
    events.update(at=F("at") - shift)

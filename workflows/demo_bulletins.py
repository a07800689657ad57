"""Demo bulletins: the reference county's 2024 — 18 issued bulletins (第1批…第18批) listing 146
problems, most rectified and closed since, a few still running.

Every step goes through the real services (tickets opened, bulletins composed and issued —
numbering, assignment, frozen text, receipts — then submitted and closed), and afterwards the
dates are moved back into 2024 (a deadline in the past cannot be assigned through the service,
rightly): the bulletin to its day, its tickets to a history around it (workflows.demo) — opened
a few days before, assigned at the issue with its deadline, rectified and closed weeks later.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from villages.models import Town
from workflows.bulletins import services as bulletins
from workflows.demo import (
    PROBLEMS,
    RECTIFICATION_GAPS,
    Staff,
    demo_history,
    demo_history_write,
)
from workflows.models import Bulletin, BulletinReceipt, RectificationTicket
from workflows.tickets import services

YEAR = 2024
# Problems per batch: 146 in 18 batches, as in the reference county's year.
SIZES = [12, 9, 7, 10, 6, 8, 11, 5, 9, 7, 8, 6, 10, 7, 9, 8, 6, 8]
TITLES = {
    "problems": "关于农村人居环境整治问题的通报",
    "supervision": "关于逾期未整改问题的督办通报",
}
NOTES = ["已清理完毕并建立长效管护台账", "已清运垃圾、整治岸坡", "已封堵排污口并设立公示牌"]


def demo_bulletins_seed(*, staff: Staff, rng: random.Random, photos: list) -> dict:
    """Idempotent: nothing when the year already has issued bulletins."""
    if Bulletin.objects.filter(year=YEAR).exists():
        return {}
    assert sum(SIZES) == 146
    towns = list(Town.objects.prefetch_related("villages").order_by("code"))
    problems = 0
    for batch, size in enumerate(SIZES, start=1):
        issued_on = date(YEAR, 1, 10) + timedelta(days=(batch - 1) * 19)
        with transaction.atomic():
            bulletin = _issue(batch, size, staff, rng, photos, towns)
            _work_off(bulletin, staff, rng, photos, issued_on)
        _backdate_bulletin(bulletin, issued_on)
        problems += size
    return {"bulletins": len(SIZES), "problems": problems}


def _issue(batch, size, staff, rng, photos, towns) -> Bulletin:
    kind = "supervision" if batch % 5 == 0 else "problems"
    tickets = []
    for _ in range(size):
        town = rng.choice(towns)
        village = rng.choice([v for v in town.villages.all() if v.level == "administrative"])
        tickets.append(
            services.rectification_create(
                by=staff.inspector,
                town=town,
                village=village,
                description=rng.choice(PROBLEMS),
                source_kind=rng.choice(["patrol", "assessment", "bulletin"]),
                before_photos=rng.sample(photos, k=2),
            )
        )
    bulletin = bulletins.bulletin_create(
        by=staff.task_force,
        kind=kind,
        title=TITLES[kind],
        year=YEAR,
        default_deadline=timezone.localdate() + timedelta(days=30),
        intro="近期县专班对全县农村人居环境整治情况开展了暗访检查，现将发现的问题通报如下，"
        "请各乡镇（街道）按期整改到位。",
    )
    bulletins.bulletin_items_set(bulletin=bulletin, by=staff.task_force, tickets=tickets)
    return bulletins.bulletin_issue(bulletin=bulletin, by=staff.task_force)


def _work_off(bulletin, staff, rng, photos, issued_on: date) -> None:
    """Towns rectify; the task force closes — all but a few of the latest batches' items."""
    recent = issued_on > date(YEAR, 10, 1)
    for item in bulletin.items.select_related("ticket"):
        ticket = item.ticket
        if recent and rng.random() < 0.35:
            continue  # still being rectified (some overdue by now)
        officer = staff.officers[ticket.town_id]
        services.rectification_submit(
            ticket=ticket, by=officer, note=rng.choice(NOTES), photos=[rng.choice(photos)]
        )
        services.rectification_close(ticket=ticket, by=staff.task_force)
    BulletinReceipt.objects.filter(bulletin=bulletin).update(acknowledged_at=timezone.now())


def _backdate_bulletin(bulletin: Bulletin, issued_on: date) -> None:
    issued_at = timezone.make_aware(datetime.combine(issued_on, time(9, 30)))
    shift = timezone.now() - issued_at
    Bulletin.objects.filter(pk=bulletin.pk).update(
        created_at=issued_at - timedelta(days=2), issued_at=issued_at
    )
    snapshot = dict(bulletin.snapshot, issued_on=issued_on.isoformat())
    snapshot["deadline"] = (issued_on + timedelta(days=30)).isoformat()
    for item in snapshot["items"]:
        item["deadline"] = snapshot["deadline"]
    Bulletin.objects.filter(pk=bulletin.pk).update(
        snapshot=snapshot, default_deadline=issued_on + timedelta(days=30)
    )
    BulletinReceipt.objects.filter(bulletin=bulletin).update(
        acknowledged_at=F("acknowledged_at") - shift + timedelta(days=1)
    )
    rng = random.Random(bulletin.pk)
    histories = {}
    for ticket_id in bulletin.items.values_list("ticket_id", flat=True):
        # The problems were found (and their tickets opened) in the days before the bulletin.
        opened = (
            issued_at - timedelta(days=rng.randint(3, 8)) + timedelta(minutes=rng.randint(-60, 420))
        )
        histories[ticket_id] = demo_history(
            rng, gaps=RECTIFICATION_GAPS, start=opened, fixed={"assign": issued_at}
        )
    demo_history_write(RectificationTicket, histories)

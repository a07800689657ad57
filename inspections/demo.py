"""Demo water sites for `make demo`: 133 sites over 金乡县's towns with 12 months of patrols.

Sites get demo positions: each town's sites cluster around a point drawn inside the county's
real outline (the divisions list has no village positions), so the map looks like a county,
not like noise. Patrols are bulk-inserted (12 × 133 rows through the service would take minutes
and teach nothing): most sites patrolled each month, some missed, a few flagged, a few problems;
the current month is half done. Sites whose latest patrol found a problem get their ticket
through the real services, so the tickets, the site states and the coverage agree.

The flagged ones carry the doubts a county meets (recorded too far away, a photo used before, a
computer's browser claiming a 1 m fix, the site's own coordinates sent back). Bulk-inserted
patrols ran no checks, so their `checks` stay empty — their pages say "checks not recorded",
as a county's patrols from before the checks were kept do; patrols recorded in the demo
through the scan page run them all. (The bulk patrols share a dozen demo photos to load fast;
the photo-reuse check compares new uploads with them like with any other evidence.)
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from shapely.geometry import Point, shape

from core.dates import months_ending
from inspections.models import Patrol, PatrolResult, Presence, SiteKind, SiteState, WaterSite
from inspections.sites.services import patrol_ticket_create
from villages.models import County, Town
from workflows.demo import demo_history_write
from workflows.models import RectificationTicket

SITES = 133
MONTHS = 12
KINDS = [
    (SiteKind.POND, 0.5, "坑塘"),
    (SiteKind.DITCH, 0.3, "沟渠"),
    (SiteKind.RIVER, 0.14, "河段"),
    (SiteKind.LAKE, 0.03, "湖"),
    (SiteKind.RESERVOIR, 0.03, "水库"),
]
STATES = [
    (SiteState.MAINTAINED, 0.86),
    (SiteState.GOVERNING, 0.08),
    (SiteState.REBOUND, 0.02),
    (SiteState.DELISTED, 0.015),
]
TREATMENTS = [
    "控源截污、清淤疏浚",
    "清淤疏浚、生态修复",
    "截污纳管、水系连通",
    "垃圾清理、岸坡整治",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
# What a flagged demo patrol was doubted for.
DOUBTS = [
    (Presence.TOO_FAR, 0.5),
    (Presence.PHOTO_REUSED, 0.2),
    (Presence.DESKTOP_FIX, 0.15),
    (Presence.COPIED_POSITION, 0.15),
]


def _weighted(choices, rng: random.Random):
    roll, total = rng.random(), 0.0
    for value, share, *rest in choices:
        total += share
        if roll < total:
            return (value, *rest) if rest else value
    first = choices[0]
    return (first[0], *first[2:]) if len(first) > 2 else first[0]


def _person(rng: random.Random, title: str) -> str:
    return f"{rng.choice(SURNAMES)}{title}"


def _phone(rng: random.Random) -> str:
    return f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def _inside(outline, rng: random.Random, near: Point | None = None, radius: float = 0.05):
    minx, miny, maxx, maxy = outline.bounds
    for _ in range(1000):
        if near is None:
            point = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        else:
            dx, dy = rng.uniform(-radius, radius), rng.uniform(-radius, radius)
            point = Point(near.x + dx, near.y + dy)
        if outline.contains(point):
            return point
    return near or outline.representative_point()


def demo_sites_seed(*, rng: random.Random, county: str) -> int:
    """The register of `county` (a code): SITES sites, shared out over its towns by their
    number of villages."""
    if WaterSite.objects.exists():
        return 0
    outlined = County.objects.filter(code=county).exclude(boundary=None).first()
    outline = shape(outlined.boundary) if outlined else None
    towns = Town.objects.filter(county_id=county).prefetch_related("villages").order_by("code")
    towns = list(towns)
    weights = [max(1, len(town.villages.all())) for town in towns]
    picks = rng.choices(towns, weights=weights, k=SITES)
    centres = {t.code: _inside(outline, rng) if outline else Point(116.31, 35.07) for t in towns}
    sites = []
    for n, town in enumerate(sorted(picks, key=lambda t: t.code), start=1):
        villages = [v for v in town.villages.all() if v.level == "administrative"]
        village = rng.choice(villages) if villages else None
        kind, suffix = _weighted(KINDS, rng)
        point = _inside(outline, rng, centres[town.code], 0.04) if outline else centres[town.code]
        area = rng.choice([800, 1200, 1500, 2400, 3600, 5200, 8000])
        sites.append(
            WaterSite(
                code=f"JX-HC-{n:03d}",
                name=f"{(village.short_name if village else town.name)}{suffix}",
                town=town,
                village=village,
                kind=kind,
                area_m2=area,
                lat=round(point.y, 6),
                lng=round(point.x, 6),
                list_level="national" if area >= 2000 else "county",
                treatment=rng.choice(TREATMENTS),
                county_person=_person(rng, "副县长"),
                county_phone="0537-8721000",
                town_person=_person(rng, "镇长"),
                town_phone=_phone(rng),
                village_person=_person(rng, "书记"),
                village_phone=_phone(rng),
                state=_weighted(STATES, rng),
                created_at=timezone.now() - timedelta(days=400),
            )
        )
    WaterSite.objects.bulk_create(sites)
    return len(sites)


def demo_patrols_seed(*, rng: random.Random, inspector, officers: dict, photos: list) -> int:
    """12 months of patrols of every listed site (bulk), with their photos; by the county's
    inspector or the site's town officer."""
    if Patrol.objects.exists():
        return 0
    today = timezone.localdate()
    # Patrols are made 08:00–18:00 (_patrol): today's only once the day's work is over, so a
    # demo loaded in the morning or at night has none recorded later than now.
    done_today = timezone.localtime().time() >= time(18, 0)
    sites = list(WaterSite.objects.listed().order_by("code"))
    rows = []
    for month in months_ending(today, MONTHS):
        current = month == today.replace(day=1)
        last_day = (today.day if done_today else today.day - 1) if current else 28
        if last_day < 1:
            continue  # the 1st, before the day's work is over: none yet this month
        for site in sites:
            if rng.random() < (0.45 if current else 0.07):
                continue  # missed (漏巡), or not yet this month
            day = month.replace(day=rng.randint(1, last_day))
            by = inspector if rng.random() < 0.6 else officers.get(site.town_id, inspector)
            rows.append(_patrol(site, day, rng, by))
    _rebounds_last(rows)
    Patrol.objects.bulk_create(rows, batch_size=500)
    through = Patrol.photos.through
    links = [
        through(patrol_id=patrol.pk, evidencephoto_id=photo.pk)
        for patrol in Patrol.objects.only("pk")
        for photo in rng.sample(photos, k=min(2, len(photos)))
    ]
    through.objects.bulk_create(links, batch_size=1000)
    return len(rows)


def _rebounds_last(rows: list[Patrol]) -> None:
    """A site registered as 反弹整改中 got there through a rebound: its latest patrol says so."""
    latest = {}
    for row in rows:
        if row.site.state == SiteState.REBOUND:
            current = latest.get(row.site_id)
            if current is None or row.created_at > current.created_at:
                latest[row.site_id] = row
    for row in latest.values():
        row.result, row.color_abnormal, row.odour = PatrolResult.REBOUND, True, True
        row.note = "水体发黑、有异味，疑似返黑返臭"


def _patrol(site: WaterSite, day: date, rng: random.Random, inspector) -> Patrol:
    at = timezone.make_aware(datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59))))
    flagged = rng.random() < 0.04
    doubt = _weighted(DOUBTS, rng) if flagged else None
    distance = rng.uniform(800, 3000) if doubt == Presence.TOO_FAR else rng.uniform(3, 120)
    accuracy = rng.choice([5, 8, 12, 20, 35])
    if doubt == Presence.DESKTOP_FIX:
        accuracy = 1
    elif doubt == Presence.COPIED_POSITION:
        distance = 0
    result = _weighted(
        [(PatrolResult.NORMAL, 0.9), (PatrolResult.PROBLEM, 0.08), (PatrolResult.REBOUND, 0.02)],
        rng,
    )
    if site.state == SiteState.GOVERNING and result == PatrolResult.REBOUND:
        result = PatrolResult.PROBLEM
    problem = result != PatrolResult.NORMAL
    return Patrol(
        site=site,
        inspector=inspector,
        key=uuid.UUID(int=rng.getrandbits(128)),
        observed_at=at,
        created_at=at,
        local_date=day,
        lat=site.lat + distance / 111_195,
        lng=site.lng,
        accuracy_m=accuracy,
        distance_m=round(distance, 1),
        floating_debris=problem and rng.random() < 0.6,
        bank_garbage=problem and rng.random() < 0.5,
        odour=problem and rng.random() < 0.3,
        color_abnormal=result == PatrolResult.REBOUND,
        result=result,
        note="水面有漂浮物，岸边有生活垃圾" if problem else "",
        flags=[_demo_flag(doubt, distance, accuracy, rng)] if doubt else [],
        flagged=flagged,
    )


def _demo_flag(doubt: str, distance: float, accuracy: float, rng: random.Random) -> dict:
    """A stored flag as presence.py writes it for that doubt."""
    if doubt == Presence.TOO_FAR:
        return {
            "code": doubt,
            "distance_m": round(distance),
            "limit_m": 200,
            "accuracy_m": accuracy,
        }
    if doubt == Presence.DESKTOP_FIX:
        return {"code": doubt, "accuracy_m": accuracy, "limit_m": 3, "device": "computer"}
    if doubt == Presence.PHOTO_REUSED:
        return {"code": doubt, "photo": f"IMG_{rng.randint(1000, 9999)}.jpg"}
    return {"code": doubt}


def demo_site_tickets_seed() -> int:
    """Tickets for the sites whose latest patrol found a problem, opened when the patrol was
    recorded (a draft the task force has yet to assign); 疑似反弹 sites move."""
    histories = {}
    latest = {}
    for patrol in Patrol.objects.select_related("site", "site__town", "site__village").order_by(
        "site_id", "created_at"
    ):
        latest[patrol.site_id] = patrol
    for patrol in latest.values():
        if patrol.result == PatrolResult.NORMAL:
            continue
        with transaction.atomic():
            site = patrol.site
            photos = list(patrol.photos.all())
            ticket = patrol_ticket_create(patrol, site=site, by=patrol.inspector, photos=photos)
            Patrol.objects.filter(pk=patrol.pk).update(ticket=ticket)
            if patrol.result == PatrolResult.REBOUND and site.state == SiteState.MAINTAINED:
                site.suspect()
                site.save()
        histories[ticket.pk] = _opened_at(patrol.created_at + timedelta(minutes=2))
    demo_history_write(RectificationTicket, histories)
    return len(histories)


def _opened_at(at: datetime):
    return lambda events: [at for _event in events]

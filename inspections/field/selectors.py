"""What a phone downloads for a day in the field ("download today's sites"): the sites its user
may patrol, with what the scan page shows of them, and the pages of the tickets he may finish
in the field (a town's rectification to submit, a service worker's job to complete), which the
service worker keeps for use without network.

A few queries whatever the number of sites: sites, this month's patrols, open tickets, and one
query per kind of job.
"""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from core.dates import month_start
from inspections.models import Patrol, WaterSite
from inspections.sites.rules import owes_patrols
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    RectificationTicket,
    ToiletTicket,
)
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS

# A county's inspector may cover every site of the county: a few thousand at most, ~200 bytes
# each in the pack. Beyond this the phone gets the first ones by town and code.
MAX_SITES = 5000
MAX_JOBS = 200  # tickets a town officer or a worker has on hand at once
SITE_PLACE = {"town": "town_id", "village": ("village_id", "village__parent_id")}
TICKET_PLACE = {"town": "town_id", "village": ("village_id", "village__parent_id")}


def patrol_sites(*, user) -> QuerySet[WaterSite]:
    """Listed sites where `user` may record a patrol."""
    return (
        WaterSite.objects.scoped(user, perm="site.patrol", **SITE_PLACE)
        .listed()
        .select_related("town", "village")
        .only(
            "token",
            "code",
            "name",
            "lat",
            "lng",
            "state",
            "patrols_per_month",
            "created_at",
            "town__name",
            "village__name",
        )
        .order_by("town__code", "code")
    )


def field_pack(*, user, today: date) -> dict:
    sites = list(patrol_sites(user=user)[:MAX_SITES])
    ids = [site.pk for site in sites]
    patrolled = set(
        Patrol.objects.valid()
        .filter(site_id__in=ids, local_date__gte=month_start(today))
        .values_list("site_id", flat=True)
        .distinct()
    )
    tickets: dict[int, list[dict]] = {}
    rows = (
        RectificationTicket.objects.filter(
            patrols__site_id__in=ids, state__in=RECTIFICATION_OPEN_STATES
        )
        .values("patrols__site_id", "number", "state", "description", "deadline")
        .distinct()
        .order_by("number")
    )
    states = dict(RectificationTicket._meta.get_field("state").choices)
    for row in rows:
        tickets.setdefault(row["patrols__site_id"], []).append(
            {
                "number": row["number"],
                "state": str(states.get(row["state"], row["state"])),
                "description": row["description"][:80],
                "deadline": row["deadline"].isoformat() if row["deadline"] else "",
            }
        )
    return {
        "made_at": today.isoformat(),
        "sites": [_site(site, site.pk in patrolled, tickets.get(site.pk, [])) for site in sites],
        "more_sites": len(sites) == MAX_SITES,
        "jobs": field_jobs(user=user),
    }


def _site(site: WaterSite, patrolled: bool, tickets: list[dict]) -> dict:
    place = (site.town.name, site.village.name if site.village else "")
    return {
        "token": site.token,
        "code": site.code,
        "name": site.name,
        "place": " ".join(part for part in place if part),
        "lat": site.lat,
        "lng": site.lng,
        "state": str(site.get_state_display()),
        "patrolled": patrolled,
        "url": reverse("scan", args=[site.token]),
        "tickets": tickets,
    }


def sites_due(*, user, today: date) -> list[WaterSite]:
    """The inspector's day: the sites he may patrol that still owe valid patrols this month
    (inspections.sites.rules.owes_patrols, counted as coverage counts them), by town and code;
    the page puts the nearest first when the phone gives its position. Two queries."""
    month = month_start(today)
    owed = patrol_sites(user=user).filter(owes_patrols(today))
    sites = list(owed[:MAX_SITES])
    done = dict(
        Patrol.objects.valid()
        .filter(site_id__in=[site.pk for site in sites], local_date__gte=month)
        .order_by()
        .values_list("site_id")
        .annotate(n=Count("pk"))
    )
    due = []
    for site in sites:
        site.done_this_month = done.get(site.pk, 0)
        if site.done_this_month < site.patrols_per_month:
            due.append(site)
    return due


def field_jobs(*, user) -> list[dict]:
    """Tickets whose field step `user` may take now: submitting a rectification, completing a
    toilet job. Their pages go into the phone's cache, forms and all."""
    jobs = []
    rectifications = RectificationTicket.objects.scoped(
        user, perm=RECTIFICATION_ACTIONS["submit"].perm, **TICKET_PLACE
    ).filter(state__in=_sources(RectificationTicket, "submit"))
    for ticket in rectifications.select_related("town").order_by("deadline", "number")[:MAX_JOBS]:
        if RECTIFICATION_ACTIONS.refusal(user, ticket, "submit") is None:
            jobs.append(_job(ticket, "ticket_detail", _("Submit for review")))
    toilets = ToiletTicket.objects.named(
        user, field="assigned_worker_id", perm="toilet.work", **TICKET_PLACE
    ).filter(state__in=_sources(ToiletTicket, "complete"))
    for ticket in toilets.select_related("town").order_by("number")[:MAX_JOBS]:
        if TOILET_ACTIONS.refusal(user, ticket, "complete") is None:
            jobs.append(_job(ticket, "toilet_detail", _("Complete")))
    return jobs


def _job(ticket, view: str, action: str) -> dict:
    return {
        "number": ticket.number,
        "url": reverse(view, args=[ticket.number]),
        "action": action,
        "state": str(ticket.get_state_display()),
        "description": ticket.description[:80],
        "deadline": ticket.deadline.isoformat() if getattr(ticket, "deadline", None) else "",
    }


def _sources(model, transition: str) -> list[str]:
    """The states `transition` of `model` leaves from (django-fsm's own declaration)."""
    field = model._meta.get_field("state")
    return sorted(
        {t.source for t in field.get_all_transitions(model) if t.name == transition} - {"*"}
    )


def due_version(*, today: date) -> str:
    """What `sites_due` reads, as a version string that any write changing it changes (one
    query): the month's patrols (a new one counted and numbered; the patrols of earlier months
    are done with) and the sites (added, removed, or saved: auto_now stamps the row). For
    inspections.field.home, which keys the cached list by it."""
    patrols, sites = Patrol._meta.db_table, WaterSite._meta.db_table
    sql = f"""
        SELECT
          (SELECT COUNT(id) || '.' || COALESCE(MAX(id), 0) FROM {patrols} WHERE local_date >= %s),
          (SELECT COUNT(id) || '.' || COALESCE(CAST(MAX(updated_at) AS TEXT), '') FROM {sites})
    """  # table names only: nothing from a request
    with connection.cursor() as cursor:
        cursor.execute(sql, [month_start(today)])
        return ".".join(str(part) for part in cursor.fetchone())

"""Reads of sites and patrols for the pages: one place for their joins and scopes."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.db.models.expressions import RawSQL

from core.prepared import Prepared
from inspections.models import Patrol, RetiredToken, WaterSite
from inspections.sites.services import site_open_tickets, site_tickets
from villages import access
from workflows.models import EvidencePhoto, RectificationTicket

RECENT_PATROLS = 5


def site_list(*, user) -> QuerySet[WaterSite]:
    return (
        WaterSite.objects.visible_to(user)
        .select_related("town", "village")
        .defer("town__boundary", "village__boundary", "treatment")
    )


def site_page_queryset() -> QuerySet[WaterSite]:
    return WaterSite.objects.select_related("town", "village").defer(
        "town__boundary", "village__boundary"
    )


def site_by_token(token: str) -> WaterSite | None:
    return site_page_queryset().filter(token=token).first()


def scan_site(*, user, token: str) -> WaterSite | None:
    """The site a QR label names, if `user` may see it, with the versions of what its scan page
    shows beside it (inspections.sites.scan_page keys its cached parts by them), in one query.
    None for an unknown token and for a site outside the user's scope.

    Whether the user may see it is asked of the site (access.allows: the rule of visible_to,
    on the row's town and village), so that the query is the same for everyone and compiled
    once (core.prepared: 2.2 of a scan's 6.6 ms went to this query, 0.8 of them compiling it)."""
    site = _SCAN_SITE.first(token)
    if site is None or not access.allows(user, "site.view", site):
        return None
    return site


# Written as SQL, not as Subquery(): the ORM took 1 ms to compile the same subqueries, 25 times
# what SQLite took to run them (133 sites, a year of patrols), on every scan.
# The site's patrols: count and last id change with every patrol recorded or removed.
_PATROLS_VERSION = f"""
    SELECT COUNT(p.id) || '.' || COALESCE(MAX(p.id), 0)
    FROM {Patrol._meta.db_table} p WHERE p.site_id = {WaterSite._meta.db_table}.id
"""  # table names only: nothing from a request
# The site's tickets, which its patrols link: a ticket is new (counted, stamped now) or saved by
# a transition (auto_now stamps it); a patrol linked to a ticket already counted changes nothing.
_TICKETS_VERSION = f"""
    SELECT COUNT(DISTINCT t.id) || '.' || COALESCE(CAST(MAX(t.updated_at) AS TEXT), '')
    FROM {Patrol._meta.db_table} p JOIN {RectificationTicket._meta.db_table} t ON t.id = p.ticket_id
    WHERE p.site_id = {WaterSite._meta.db_table}.id
"""  # table names only: nothing from a request


_SCAN_SITE = Prepared(
    lambda token: (
        site_page_queryset()
        .filter(token=token)
        .annotate(
            patrols_version=RawSQL(_PATROLS_VERSION, ()),
            tickets_version=RawSQL(_TICKETS_VERSION, ()),
        )
    )
)


def retired_token(token: str) -> RetiredToken | None:
    return RetiredToken.objects.select_related("site").filter(token=token).first()


def _thumbnails() -> Prefetch:
    return Prefetch("photos", queryset=EvidencePhoto.objects.order_by("id"))


def site_patrols(*, site: WaterSite) -> QuerySet[Patrol]:
    """The site's history, newest first, with what a row shows."""
    return (
        Patrol.objects.filter(site=site)
        .select_related("inspector", "ticket")
        .prefetch_related(_thumbnails())
        .order_by("-created_at", "-id")
    )


# What a line of templates/inspections/patrol_rows.html shows: reading only these columns
# halves the ORM's work for the scan page's last patrols. The ticket's state too: its FSM
# mixin reads it when the row is loaded (a query per ticket if it were deferred).
PATROL_LINE = (
    "observed_at", "result", "flagged", "flags", "distance_m",
    "inspector__username", "inspector__first_name", "inspector__last_name",
    "ticket__number", "ticket__state",
)  # fmt: skip


def recent_patrols(*, site: WaterSite) -> list[Patrol]:
    """The scan page's last patrols: a line each, no photos (the site's page shows those)."""
    patrols = Patrol.objects.filter(site=site).select_related("inspector", "ticket")
    return list(patrols.only(*PATROL_LINE).order_by("-created_at", "-id")[:RECENT_PATROLS])


def open_ticket_lines(*, site: WaterSite):
    """The scan page's open tickets of `site`: what a line shows (scan_tickets.html)."""
    return site_open_tickets(site=site).only("number", "state", "description", "deadline")


def all_tickets(*, site: WaterSite):
    return site_tickets(site=site).select_related("town", "village")


def patrol_page_queryset() -> QuerySet[Patrol]:
    return (
        Patrol.objects.select_related("site", "site__town", "site__village", "inspector", "ticket")
        .defer("site__town__boundary", "site__village__boundary")
        .prefetch_related(_thumbnails())
    )

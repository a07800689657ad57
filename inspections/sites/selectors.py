"""Reads of sites and patrols for the pages: one place for their joins and scopes."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from inspections.models import Patrol, RetiredToken, WaterSite
from inspections.sites.services import site_open_tickets, site_tickets
from workflows.models import EvidencePhoto

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


def recent_patrols(*, site: WaterSite) -> list[Patrol]:
    return list(site_patrols(site=site)[:RECENT_PATROLS])


def open_tickets(*, site: WaterSite):
    return site_open_tickets(site=site).select_related("town", "village")


def all_tickets(*, site: WaterSite):
    return site_tickets(site=site).select_related("town", "village")


def patrol_page_queryset() -> QuerySet[Patrol]:
    return (
        Patrol.objects.select_related("site", "site__town", "site__village", "inspector", "ticket")
        .defer("site__town__boundary", "site__village__boundary")
        .prefetch_related(_thumbnails())
    )

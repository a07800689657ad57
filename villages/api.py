"""The JSON API's towns and villages (config/api.py): the caller's jurisdiction only."""

from __future__ import annotations

from ninja import Query, Router, Schema

from core.api import READ_ERRORS, Page, cursor_page, filter_data, filter_schema, form_errors
from core.errors import ApplicationError
from villages import selectors
from villages.filtersets import VillageFilterSet
from villages.models import Town, Village
from villages.scope import get_visible_or_404

router = Router(tags=["towns and villages"])


class TownOut(Schema):
    code: str
    name: str
    kind: str
    county_code: str
    centroid_lng: float | None
    centroid_lat: float | None

    @staticmethod
    def resolve_county_code(town) -> str:
        return town.county_id


class VillageOut(Schema):
    code: str
    name: str
    level: str
    committee_type: str
    town_code: str
    parent_code: str | None
    centroid_lng: float | None
    centroid_lat: float | None

    @staticmethod
    def resolve_town_code(village) -> str:
        return village.town_id

    @staticmethod
    def resolve_parent_code(village) -> str | None:
        return village.parent_id


VillageFilters = filter_schema(VillageFilterSet, "VillageFilters")


@router.get("/towns", response={200: list[TownOut], **READ_ERRORS}, summary="Towns")
def town_list(request):
    """The towns (乡镇/街道) of the caller's jurisdiction, by code."""
    return list(selectors.town_list(user=request.user))


@router.get("/towns/{code}", response={200: TownOut, **READ_ERRORS}, summary="One town")
def town_detail(request, code: str):
    return get_visible_or_404(Town.objects.all(), request.user, code=code)


@router.get("/villages", response={200: Page[VillageOut], **READ_ERRORS}, summary="Villages")
def village_list(
    request,
    filters: Query[VillageFilters],
    cursor: str | None = None,
    page_size: int | None = None,
):
    """Villages (行政村 and 自然村) of the caller's jurisdiction, by code, with the village
    list's filters."""
    queryset = selectors.village_list(user=request.user)
    filterset = VillageFilterSet(filter_data(filters), queryset=queryset, user=request.user)
    if not filterset.is_valid():
        raise ApplicationError(" ".join(form_errors(filterset.form)))
    return cursor_page(
        filterset.qs, cursor=cursor, size=page_size, key="code", cast=str, newest=False
    )


@router.get("/villages/{code}", response={200: VillageOut, **READ_ERRORS}, summary="One village")
def village_detail(request, code: str):
    return get_visible_or_404(Village.objects.all(), request.user, code=code)

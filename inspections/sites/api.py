"""The JSON API's water sites and patrols (config/api.py): the register's selectors and the scan
page's form and service, answering as the pages do.

- GET /sites: the sites the caller may see, by code, with the register's filters (its
  FilterSet, without the page's sort: pages follow the code), `town` and `bbox`.
- GET /sites/{code}: one site, its open tickets, and its QR token only for those who may print
  its labels (site.labels).
- POST /sites/{code}/patrols: the scan page's patrol form as multipart, photos included,
  recorded by the same service. The submission `key` makes a resend harmless: the first time
  201, the same key again 200 with the patrol already recorded (and its photos kept, the
  resent ones dropped).
- GET /sites/{code}/patrols: its patrols, newest first.
"""

from __future__ import annotations

import datetime
import math
import re
import uuid

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.api import (
    ERRORS,
    READ_ERRORS,
    Error,
    Page,
    cursor_page,
    error_body,
    filter_data,
    filter_schema,
)
from core.api import form_errors as errors_of
from core.errors import ApplicationError, Conflict, Forbidden
from inspections.models import (
    ListLevel,
    Patrol,
    PatrolCheck,
    PatrolResult,
    PreviousFixed,
    Signboard,
    SiteKind,
    SiteState,
    WaterSite,
)
from inspections.sites import presence, selectors, services
from inspections.sites.filtersets import WaterSiteFilterSet
from inspections.sites.forms import MAX_PATROL_PHOTOS, PatrolForm
from inspections.sites.labels import scan_url
from inspections.sites.services import PatrolRefused
from inspections.sites.views_labels import label_base_url
from villages import access
from villages.people.services import display_name
from villages.scope import get_visible_or_404
from workflows.evidence.services import EvidenceError, evidence_photos_discard, evidence_record
from workflows.tickets.forms import NOTE_MAX

router = Router(tags=["water sites and patrols"])

TOWN_CODE = re.compile(r"\d{12}")


# --- schemas ----------------------------------------------------------------------------------


class SiteOut(Schema):
    code: str
    name: str
    town_code: str
    town_name: str
    village_code: str | None
    village_name: str | None
    kind: SiteKind
    list_level: ListLevel
    state: SiteState
    lng: float = Field(description="WGS-84 longitude")
    lat: float = Field(description="WGS-84 latitude")
    area_m2: float | None
    patrols_per_month: int

    @staticmethod
    def resolve_town_code(site) -> str:
        return site.town_id

    @staticmethod
    def resolve_town_name(site) -> str:
        return site.town.name

    @staticmethod
    def resolve_village_code(site) -> str | None:
        return site.village_id

    @staticmethod
    def resolve_village_name(site) -> str | None:
        return site.village.name if site.village_id else None


class SiteDetailOut(SiteOut):
    treatment: str
    county_person: str
    county_phone: str
    town_person: str
    town_phone: str
    village_person: str
    village_phone: str
    open_tickets: list[str] = Field(description="Numbers of the site's open rectification tickets")
    qr_token: str | None = Field(
        description="The token of the signboard's QR code (the scan URL's last part); null "
        "unless the caller may print the site's labels"
    )
    scan_url: str | None = Field(description="The URL the QR code encodes; null like qr_token")
    qr_issued_at: datetime.datetime | None = Field(description="When the current label was issued")


class PhotoOut(Schema):
    id: int
    display_url: str
    thumbnail_url: str
    taken_at: datetime.datetime | None

    @staticmethod
    def resolve_display_url(photo, context) -> str:
        return context["request"].build_absolute_uri(photo.display_url)

    @staticmethod
    def resolve_thumbnail_url(photo, context) -> str:
        return context["request"].build_absolute_uri(photo.thumbnail_url)


class DoubtOut(Schema):
    code: str
    message: str


class PatrolOut(Schema):
    id: int
    site_code: str
    inspector: str
    key: uuid.UUID
    observed_at: datetime.datetime = Field(description="When the inspector was at the site")
    received_at: datetime.datetime = Field(description="When the server received the patrol")
    local_date: datetime.date
    result: PatrolResult
    checks: list[str] = Field(description="What the inspector saw (the ticked checks)")
    signboard: Signboard
    previous_fixed: PreviousFixed
    note: str
    lat: float | None
    lng: float | None
    accuracy_m: float | None
    distance_m: float | None
    flagged: bool = Field(description="Its presence on site is in doubt: see doubts")
    doubts: list[DoubtOut]
    ticket: str | None = Field(description="The rectification ticket its finding opened or joined")
    photos: list[PhotoOut]

    @staticmethod
    def resolve_site_code(patrol) -> str:
        return patrol.site.code

    @staticmethod
    def resolve_inspector(patrol) -> str:
        return display_name(patrol.inspector)

    @staticmethod
    def resolve_received_at(patrol) -> datetime.datetime:
        return patrol.created_at

    @staticmethod
    def resolve_checks(patrol) -> list[str]:
        return [check for check in PatrolCheck if getattr(patrol, check)]

    @staticmethod
    def resolve_doubts(patrol) -> list[dict]:
        return [
            {"code": flag.get("code", ""), "message": presence.message(flag)}
            for flag in patrol.flags
        ]

    @staticmethod
    def resolve_ticket(patrol) -> str | None:
        return patrol.ticket.number if patrol.ticket_id else None

    @staticmethod
    def resolve_photos(patrol) -> list:
        return list(patrol.photos.all())


class PatrolIn(Schema):
    """The scan page's patrol form (inspections.sites.forms.PatrolForm) as multipart: what the
    OpenAPI document shows. The form itself reads and checks what is sent, as on the page."""

    key: uuid.UUID = Field(
        description="A new UUID per patrol, kept with it while it is resent: the same key "
        "again answers the patrol already recorded"
    )
    result: str = Field(json_schema_extra={"enum": PatrolResult.values})
    checks: list[str] = Field(
        [], description="What was seen", json_schema_extra={"items": {"enum": list(PatrolCheck)}}
    )
    signboard: str = Field(Signboard.GOOD.value, json_schema_extra={"enum": Signboard.values})
    previous_fixed: str = Field(
        PreviousFixed.NONE.value, json_schema_extra={"enum": PreviousFixed.values}
    )
    note: str = Field("", max_length=NOTE_MAX)
    lat: float | None = Field(None, ge=-90, le=90, description="The phone's GPS fix, WGS-84")
    lng: float | None = Field(None, ge=-180, le=180)
    accuracy: float | None = Field(None, ge=0, le=1_000_000, description="Metres")
    observed_at: datetime.datetime | None = Field(
        None, description="When the GPS fix was taken (a patrol sent later); default now"
    )
    photos: list[bytes] = Field(
        [],
        max_length=MAX_PATROL_PHOTOS,
        description="Photos from the camera, their EXIF kept (the county's policy may refuse a "
        "patrol without one)",
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )


def _multipart(schema: type[Schema]) -> dict:
    body = schema.model_json_schema()
    body.pop("title", None)
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": body}},
        }
    }


# --- sites ------------------------------------------------------------------------------------

SiteFilters = filter_schema(WaterSiteFilterSet, "SiteFilters", exclude=("o",))


@router.get(
    "/sites",
    response={200: Page[SiteOut], **READ_ERRORS},
    summary="Water sites",
    url_name="api_site_list",
)
def site_list(
    request,
    filters: Query[SiteFilters],
    town: str | None = Query(None, description="A town's 12-digit code (as town_id)"),
    bbox: str | None = Query(
        None,
        max_length=200,
        description="minLng,minLat,maxLng,maxLat (WGS-84): the sites inside, e.g. "
        "116.20,35.00,116.30,35.10",
    ),
    cursor: str | None = None,
    page_size: int | None = None,
):
    """The water sites (黑臭水体) of the caller's jurisdiction, by code, every state unless
    `state` says which (the register page starts with the listed ones)."""
    data = filter_data(filters)
    if town is not None:
        if not TOWN_CODE.fullmatch(town) or data.get("town_id", town) != town:
            raise ApplicationError(_("town must be one 12-digit division code."))
        data["town_id"] = town
    queryset = selectors.site_list(user=request.user)
    if bbox is not None:
        queryset = _inside(queryset, bbox)
    filterset = WaterSiteFilterSet(data, queryset=queryset, user=request.user)
    if not filterset.is_valid():
        raise ApplicationError(" ".join(errors_of(filterset.form)))
    return cursor_page(
        filterset.qs, cursor=cursor, size=page_size, key="code", cast=str, newest=False
    )


def _inside(queryset, bbox: str):
    min_lng, min_lat, max_lng, max_lat = parse_bbox(bbox)
    return queryset.filter(lng__gte=min_lng, lng__lte=max_lng, lat__gte=min_lat, lat__lte=max_lat)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """ "minLng,minLat,maxLng,maxLat" as four numbers in range, or ApplicationError (400)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(value) for value in values):
        raise ApplicationError(_("bbox must be four numbers: minLng,minLat,maxLng,maxLat."))
    min_lng, min_lat, max_lng, max_lat = values
    if not (-180 <= min_lng <= max_lng <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ApplicationError(
            _("bbox must have -180 ≤ minLng ≤ maxLng ≤ 180 and -90 ≤ minLat ≤ maxLat ≤ 90.")
        )
    return min_lng, min_lat, max_lng, max_lat


def _site(request, code: str) -> WaterSite:
    return get_visible_or_404(selectors.site_page_queryset(), request.user, code=code)


@router.get(
    "/sites/{code}",
    response={200: SiteDetailOut, **READ_ERRORS},
    summary="One site",
    url_name="api_site_detail",
)
def site_detail(request, code: str):
    """A site with its position, state and open tickets. Its QR token (and the URL the label
    encodes) only for those who may print its labels and issue new ones."""
    site = _site(request, code)
    site.open_tickets = list(services.site_open_tickets(site=site).values_list("number", flat=True))
    may_print = access.allows(request.user, "site.labels", site)
    site.qr_token = site.token if may_print else None
    site.scan_url = scan_url(site, label_base_url(request)) if may_print else None
    site.qr_issued_at = site.token_issued_at if may_print else None
    return site


# --- patrols ----------------------------------------------------------------------------------


@router.get(
    "/sites/{code}/patrols",
    response={200: Page[PatrolOut], **READ_ERRORS},
    summary="A site's patrols",
    url_name="api_site_patrols",
)
def patrol_list(request, code: str, cursor: str | None = None, page_size: int | None = None):
    """The site's patrols, newest first."""
    site = _site(request, code)
    patrols = selectors.patrol_page_queryset().filter(site=site)
    return cursor_page(patrols, cursor=cursor, size=page_size)


@router.post(
    "/sites/{code}/patrols",
    response={200: PatrolOut, 201: PatrolOut, **ERRORS, 507: Error},
    summary="Record a patrol",
    openapi_extra=_multipart(PatrolIn),
    url_name="api_site_patrols",
)
def patrol_create(request: HttpRequest, code: str):
    """Record a patrol at the site, as its QR code's page does: the same form, the same checks
    of presence (the county's policy refuses, 400 with the reasons, or flags), a finding opens
    or joins the site's rectification ticket. 201 the first time; the same `key` again 200
    with that patrol. 403 for a role that does not patrol here, 409 for a site removed from
    the list, 507 when the server's storage is full (nothing stored)."""
    site = _site(request, code)
    if not access.allows(request.user, "site.patrol", site):
        raise Forbidden(_("You may not record a patrol at this site."))
    if not site.is_listed:
        raise Conflict(_("This site was removed from the list; it is not patrolled."))
    form = PatrolForm(request.POST, request.FILES)
    if not form.is_valid():
        return Status(400, error_body(_("Please correct the patrol."), errors=errors_of(form)))
    try:
        patrol, created = _record(request, site, form)
    except _Refused as refused:
        return Status(400, error_body(refused.message, errors=refused.reasons))
    patrol = selectors.patrol_page_queryset().get(pk=patrol.pk)
    return Status(201 if created else 200, patrol)


class _Refused(ApplicationError):
    """A patrol not recorded, with its reasons (a bad photo, the county's presence policy):
    answered 400 with each reason in `errors`. Nothing was stored."""

    def __init__(self, message: str, reasons: list[str]):
        super().__init__(message)
        self.reasons = reasons


def _record(request, site: WaterSite, form: PatrolForm) -> tuple[Patrol, bool]:
    key = form.cleaned_data["key"]
    done = Patrol.objects.filter(inspector=request.user, key=key).first()
    if done is not None:  # a resend: nothing uploaded, nothing stored
        return done, False
    stored = []

    def record(photos):
        stored[:] = photos
        return services.patrol_record(
            by=request.user,
            site=site,
            key=key,
            observation=form.observation(),
            position=form.position(),
            photos=photos,
            # The computer-browser check reads a browser's User-Agent: a page's script on the
            # session sends one; another system's token does not come through a browser.
            user_agent=_browser(request),
            observed_at=form.cleaned_data.get("observed_at"),
        )

    try:
        patrol, created = evidence_record(
            files=form.cleaned_data.get("photos") or [], uploaded_by=request.user, record=record
        )
    except EvidenceError as error:
        raise _Refused(_("Please correct the patrol."), error.messages) from None
    except PatrolRefused as error:
        reasons = [presence.message(doubt.as_flag()) for doubt in error.doubts]
        raise _Refused(error.message, reasons) from None
    if not created:  # the same POST twice at once: the patrol recorded keeps its own photos
        evidence_photos_discard(stored)
    return patrol, created


def _browser(request) -> str | None:
    if getattr(request, "access_token", None) is not None:
        return None
    return request.headers.get("User-Agent", "")

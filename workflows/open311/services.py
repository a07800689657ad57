"""A service request posted through Open311 becomes a draft rectification ticket (待交办) of the
town its position lies in, opened by workflows.tickets.services.rectification_create — the one
function that opens tickets, with every rule of who may open one where."""

from __future__ import annotations

from django.utils.translation import gettext as _

from core.errors import ApplicationError, Forbidden
from villages import access
from villages.lookup import CONTAINS, locate
from villages.models import Town, Village
from workflows.models import RectificationTicket, Source
from workflows.tickets import services as tickets


def open311_request_create(
    *,
    by,
    service_code: str,
    lat: float,
    lng: float,
    description: str,
    address: str = "",
    media_url: str = "",
) -> RectificationTicket:
    """Open a draft ticket for `by` (the api_key's account) in the town at (lat, lng), of the
    category `service_code`. A media URL is written under the description for the officers to
    open; it is not fetched (the server fetches nothing a caller names)."""
    town, village = _place(lat=lat, lng=lng)
    if not access.allows(by, "ticket.open", RectificationTicket(town=town, village=village)):
        raise Forbidden(_("This api_key may not open tickets in %(town)s.") % {"town": town.name})
    text = (description or "").strip()
    if text and media_url:
        media = _("Media: %(url)s") % {"url": media_url}
        text = f"{text}\n{media}"
    return tickets.rectification_create(
        by=by,
        town=town,
        village=village,
        description=text,
        source_kind=Source.HOTLINE,
        category=service_code,
        site_label=address.strip(),
        location=(lat, lng),
    )


def _place(*, lat: float, lng: float) -> tuple[Town, Village | None]:
    """The town villages.lookup places the position in, as for patrols: the town whose boundary
    holds it, or where no boundary does, the town of the nearest village centre within
    VILLAGE_LOOKUP_MAX_DISTANCE_M. The village only when its own boundary holds the position:
    a nearest centre is a guess, which a ticket does not record as its place."""
    where = locate(lng=lng, lat=lat)
    if where is None or where.town is None:
        raise ApplicationError(_("The position is not inside any town of the county."))
    town = Town.objects.defer("boundary").get(code=where.town.code)
    village = None
    if where.village is not None and where.method == CONTAINS:
        village = Village.objects.defer("boundary").filter(code=where.village.code).first()
    return town, village

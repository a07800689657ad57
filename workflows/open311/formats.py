"""GeoReport v2's two formats: JSON, and XML with the standard's element names. A response is
built once as Python data (lists of dicts, in the order of the standard's tables) and written
in the format the URL's suffix asks for; the XML follows the standard's mapping (a list is an
element holding one element per item, named as LIST_ITEMS says; null an empty element)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, time
from xml.etree import ElementTree

from django.http import HttpResponse
from django.utils import timezone

from workflows.models import Category, RectificationState, RectificationTicket
from workflows.open311.selectors import status_of

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}
# Characters XML 1.0 cannot hold, even escaped: a description typed with a stray control
# character must still give a document every parser reads.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def respond(fmt: str, data, *, root: str, status: int = 200) -> HttpResponse:
    """`data` (a list, or a dict for a service definition) as JSON or as the XML document
    `root`."""
    if fmt == "xml":
        return HttpResponse(_xml(root, data), content_type=XML_TYPE, status=status)
    body = json.dumps(data, ensure_ascii=False)
    return HttpResponse(body, content_type=JSON_TYPE, status=status)


def errors(fmt: str, status: int, descriptions: list[str]) -> HttpResponse:
    """The standard's error body: one {code, description} per error, code the HTTP status."""
    body = [{"code": status, "description": str(text)} for text in descriptions]
    return respond(fmt, body, root="errors", status=status)


def _xml(root: str, data) -> str:
    element = ElementTree.Element(root)
    _fill(element, data, LIST_ITEMS.get(root))
    return XML_DECLARATION + ElementTree.tostring(element, encoding="unicode")


def _fill(element: ElementTree.Element, value, item: str | None) -> None:
    if isinstance(value, list):
        for entry in value:
            _fill(ElementTree.SubElement(element, item or "item"), entry, None)
    elif isinstance(value, dict):
        for key, entry in value.items():
            _fill(ElementTree.SubElement(element, key), entry, LIST_ITEMS.get(key))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = NOT_XML.sub("", str(value))


# --- a ticket as a service request -------------------------------------------------------------


def w3c(moment: datetime | None) -> str | None:
    """In the county's time with its offset, e.g. 2025-03-01T09:30:00+08:00."""
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def service_request(ticket: RectificationTicket, *, photo_url: Callable[[int], str]) -> dict:
    """A ticket as GeoReport's request, every field of the standard's table in its order.
    `photo_url(pk)` is the address of a photo; the ticket must come from
    workflows.open311.selectors (its town, county, village and first photo loaded)."""
    photos = getattr(ticket, "photos", [])
    return {
        "service_request_id": ticket.number,
        "status": status_of(ticket.state),
        "status_notes": _status_notes(ticket),
        "service_name": str(Category(ticket.category).label),
        "service_code": ticket.category,
        "description": ticket.description,
        "agency_responsible": ticket.town.name,
        "service_notice": None,
        "requested_datetime": w3c(ticket.created_at),
        "updated_datetime": w3c(_updated(ticket)),
        "expected_datetime": w3c(_deadline_end(ticket)),
        "address": _address(ticket),
        "address_id": ticket.village_id or ticket.town_id,
        "zipcode": None,
        "lat": ticket.location_lat,
        "long": ticket.location_lng,
        "media_url": photo_url(photos[0].pk) if photos else None,
    }


def _status_notes(ticket: RectificationTicket) -> str:
    """The ticket's own state (待交办, 整改中, …), and once closed what the town did."""
    label = str(ticket.get_state_display())
    if ticket.state == RectificationState.CLOSED and ticket.rectification_note:
        return f"{label}: {ticket.rectification_note}"
    return label


def _updated(ticket: RectificationTicket) -> datetime:
    # "For requests with status=closed, this will be the date the request was closed."
    if ticket.state == RectificationState.CLOSED and ticket.closed_at:
        return ticket.closed_at
    return ticket.updated_at


def _deadline_end(ticket: RectificationTicket) -> datetime | None:
    """The deadline (整改时限) is a day: the work is expected by its end, county time."""
    if ticket.deadline is None:
        return None
    return timezone.make_aware(datetime.combine(ticket.deadline, time(23, 59, 59)))


def _address(ticket: RectificationTicket) -> str:
    """From the most specific to the most general, as the standard asks: site, village, town,
    county."""
    parts = [ticket.site_label, ticket.village.short_name if ticket.village_id else ""]
    parts += [ticket.town.name, ticket.town.county.name]
    return ", ".join(part for part in parts if part)

"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) at /open311/v2/.

Who may read what: the services (the county's categories) are public, as the standard has them.
Service requests are the county's rectification tickets — places, descriptions and photos of
people's homes — so reading them takes an api_key as writing does, and shows exactly the tickets
the key's account sees on the pages (its role and jurisdiction). Errors answer in the standard's
body: 400 bad input, 403 missing, invalid, revoked or expired api_key (or a role or
jurisdiction that may not do it), 404 unknown service or request, 405 wrong method, 429 too
many calls for the key.
"""

from __future__ import annotations

import math
from functools import wraps

from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from core.errors import ApplicationError
from villages.people.api_auth import TokenRate
from villages.people.tokens import token_authenticate
from workflows.open311 import formats, selectors
from workflows.open311.catalog import SERVICES, service_or_none
from workflows.open311.forms import RequestCreateForm, RequestQueryForm
from workflows.open311.services import open311_request_create


class Refused(Exception):
    """Answer with the standard's error body: `status` and one description per error."""

    def __init__(self, status: int, *descriptions: str, headers: dict | None = None):
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = [str(text) for text in descriptions]
        self.headers = headers or {}


def open311(*methods: str):
    """A GeoReport endpoint: the format from the URL, only `methods`, and every refusal —
    ours, a service's ApplicationError (400/403/404/409) — in the standard's error body."""

    def decorate(view):
        @csrf_exempt  # an api_key in the form, no cookie: no request forgery to guard against
        @wraps(view)
        def endpoint(request, *args, fmt: str, **kwargs):
            try:
                if request.method not in methods:
                    allowed = ", ".join(methods)
                    raise Refused(
                        405,
                        _("Use %(methods)s.") % {"methods": allowed},
                        headers={"Allow": allowed},
                    )
                response = view(request, *args, fmt=fmt, **kwargs)
            except Refused as refusal:
                response = formats.errors(fmt, refusal.status, refusal.descriptions)
                for name, value in refusal.headers.items():
                    response[name] = value
            except ApplicationError as error:
                response = formats.errors(fmt, error.status, [error.message])
            # Requests are read per api_key and change all the time: no cache keeps them.
            patch_cache_control(response, no_store=True, private=True)
            return response

        return endpoint

    return decorate


def _caller(request):
    """The api_key's account (villages/people/tokens.py), counted against the key's rate."""
    secret = request.POST.get("api_key") or request.GET.get("api_key") or _bearer(request)
    if not secret:
        raise Refused(403, _("Send an api_key: an access token made on the people page."))
    token = token_authenticate(secret)
    if token is None:
        raise Refused(403, _("Invalid api_key: unknown, revoked or expired."))
    request.access_token = token
    throttle = TokenRate()
    if not throttle.allow_request(request):
        wait = max(1, math.ceil(throttle.wait()))
        raise Refused(
            429,
            _("Too many requests for this api_key; retry after the time in Retry-After."),
            headers={"Retry-After": str(wait)},
        )
    return token.user


def _bearer(request) -> str:
    scheme, _space, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _invalid(form) -> Refused:
    lines = []
    for field, messages in form.errors.items():
        prefix = "" if field == "__all__" else f"{field}: "
        lines.extend(f"{prefix}{message}" for message in messages)
    return Refused(400, *lines)


def _photo_url(request):
    def url(pk: int) -> str:
        return request.build_absolute_uri(reverse("photo_display", args=[pk]))

    return url


# --- services ---------------------------------------------------------------------------------


@open311("GET", "HEAD")
def service_list(request, *, fmt: str):
    data = [service.as_dict() for service in SERVICES.values()]
    return formats.respond(fmt, data, root="services")


@open311("GET", "HEAD")
def service_definition(request, code: str, *, fmt: str):
    service = service_or_none(code)
    if service is None:
        raise Refused(404, _("Unknown service_code: %(codes)s.") % {"codes": code})
    return formats.respond(fmt, service.definition(), root="service_definition")


# --- requests ---------------------------------------------------------------------------------


@open311("GET", "HEAD", "POST")
def service_requests(request, *, fmt: str):
    if request.method == "POST":
        return _create(request, fmt)
    user = _caller(request)
    form = RequestQueryForm(request.GET)
    if not form.is_valid():
        raise _invalid(form)
    tickets = selectors.request_list(user=user, query=form.query())
    url = _photo_url(request)
    data = [formats.service_request(ticket, photo_url=url) for ticket in tickets]
    return formats.respond(fmt, data, root="service_requests")


def _create(request, fmt: str):
    user = _caller(request)
    form = RequestCreateForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    data = form.cleaned_data
    if service_or_none(data["service_code"]) is None:
        raise Refused(404, _("Unknown service_code: %(codes)s.") % {"codes": data["service_code"]})
    ticket = open311_request_create(
        by=user,
        service_code=data["service_code"],
        lat=data["lat"],
        lng=data["long"],
        description=data["description"],
        address=data["address_string"],
        media_url=data["media_url"],
    )
    notice = _("Passed to %(town)s. The county task force assigns it with a deadline (待交办).") % {
        "town": ticket.town.name
    }
    created = {
        "service_request_id": ticket.number,
        "service_notice": notice,
        "account_id": data["account_id"] or None,
    }
    return formats.respond(fmt, [created], root="service_requests")


@open311("GET", "HEAD")
def request_detail(request, number: str, *, fmt: str):
    ticket = selectors.request_one(user=_caller(request), number=number)
    if ticket is None:
        raise _no_request(number)
    data = [formats.service_request(ticket, photo_url=_photo_url(request))]
    return formats.respond(fmt, data, root="service_requests")


@open311("GET", "HEAD")
def token_detail(request, token: str, *, fmt: str):
    """Requests are created at once (type realtime), so a POST answers the request id and never
    a token; a client that asks anyway learns that the token is the request id."""
    ticket = selectors.request_one(user=_caller(request), number=token)
    if ticket is None:
        raise _no_request(token)
    data = [{"service_request_id": ticket.number, "token": ticket.number}]
    return formats.respond(fmt, data, root="service_requests")


def _no_request(number: str) -> Refused:
    # Unknown and outside the key's jurisdiction answer alike, as on the pages.
    return Refused(404, _("No service request %(id)s, or not for this api_key.") % {"id": number})


@open311("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
def unknown(request, *, fmt: str):
    raise Refused(404, _("No such Open311 resource; see services.%(fmt)s.") % {"fmt": fmt})


def not_found(request, path: str = ""):
    """Any other address under /open311/v2/: the standard's 404, XML when it ends in .xml."""
    return unknown(request, fmt="xml" if path.rstrip("/").endswith(".xml") else "json")

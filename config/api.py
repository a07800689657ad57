"""The JSON API, /api/v1/: one NinjaAPI wiring each app's router (django-ninja: the OpenAPI 3.1
document at /api/v1/openapi.json and the browsable page at /api/v1/docs come from the same typed
code that answers, and its Swagger UI files are served locally, with no CDN).

Routers live with their app (villages/api.py, workflows/tickets/api.py, …) and call the same
selectors and services as the pages; core/api.py holds what they share.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from core.api import BodyError, CursorError, JSONRenderer, error_body
from core.errors import ApplicationError
from villages.people.api_auth import PageSession, TokenAuth, TokenRate

api = NinjaAPI(
    title="乡村人居环境巡查整改系统 API",
    version="1",
    description=(
        "The county's tickets, water sites, patrols, grades and documents for other systems. "
        "Authenticate with a personal access token (Authorization: Bearer rjt_…) made on the "
        "people page, or with the browser's session. Every answer is limited to the caller's "
        "role and jurisdiction, as on the pages: outside it 404, an action not allowed 403 "
        "with the reason, a stale version 409 with the current state, too many calls 429."
    ),
    auth=[TokenAuth(), PageSession()],
    throttle=[TokenRate()],
    urls_namespace="api-v1",
    renderer=JSONRenderer(),
    docs_url="/docs",
)


@api.exception_handler(ApplicationError)
def _application_error(request, error: ApplicationError):
    state = getattr(error, "state", None)
    errors = getattr(error, "errors", None)
    body = error_body(error.message, errors=errors, state=state)
    return api.create_response(request, body, status=error.status)


@api.exception_handler(Http404)
def _not_found(request, error):
    return api.create_response(
        request, error_body(_("Not found, or outside your jurisdiction.")), status=404
    )


@api.exception_handler(PermissionDenied)
def _forbidden(request, error):
    # villages.access.require: the role holds the permission nowhere; the message says which.
    return api.create_response(request, error_body(str(error)), status=403)


@api.exception_handler(ValidationError)
def _invalid(request, error: ValidationError):
    lines = []
    for item in error.errors:
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "body"))
        lines.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
    return api.create_response(
        request, error_body(_("Please correct the request."), errors=lines), status=400
    )


@api.exception_handler(CursorError)
def _bad_cursor(request, error):
    return api.create_response(request, error_body(_("This cursor is not valid.")), status=400)


@api.exception_handler(BodyError)
def _bad_body(request, error):
    return api.create_response(
        request, error_body(_("The request body must be a JSON object.")), status=400
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, error):
    detail = _("Authenticate with a valid access token (Authorization: Bearer …) or log in.")
    return api.create_response(request, error_body(detail), status=401)


@api.exception_handler(Throttled)
def _throttled(request, error):
    detail = _("Too many requests for this token; retry after the time in Retry-After.")
    return api.create_response(request, error_body(detail), status=429)


@api.exception_handler(HttpError)
def _http_error(request, error: HttpError):
    return api.create_response(request, error_body(str(error)), status=error.status_code)


def _routers():
    from inspections.api import router as inspections_router
    from villages.api import router as villages_router
    from workflows.api import router as workflows_router

    api.add_router("", villages_router)
    api.add_router("", workflows_router)
    api.add_router("", inspections_router)


_routers()

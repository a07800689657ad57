"""HTTP helpers shared by every app's views."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse


def see_other(url: str) -> HttpResponseRedirect:
    """303 after a POST: the browser GETs `url`, and reloading it does not post again."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# The phone's queue of field work (static/js/field_queue.js) sends the same forms as the pages
# and asks for a short JSON answer instead of the page: what was recorded and where to see it,
# or why not — each queued item shows its own result.
def wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def opens_result(request) -> bool:
    """The page that sent the form will open the result next (a send while the user watches,
    not one from the queue later): the usual messages then greet him there."""
    return not wants_json(request) or request.headers.get("X-Field-Then") == "open"


def json_done(url: str, messages: list[str], *, again: bool = False) -> JsonResponse:
    """Recorded (or, `again`, recorded already by an earlier send of the same key)."""
    return JsonResponse({"ok": True, "url": url, "messages": messages, "again": again})


def json_refused(errors: list[str], *, status: int, url: str = "") -> JsonResponse:
    return JsonResponse(
        {"ok": False, "errors": [str(error) for error in errors], "url": url}, status=status
    )


def client_ip(request) -> str:
    """The address a request came from, for login throttling and logs.

    Behind nginx (BEHIND_TLS_PROXY) every request arrives from 127.0.0.1. nginx overwrites
    X-Real-IP with the address it saw and appends that address to X-Forwarded-For, after
    whatever the client wrote there: so the client is X-Real-IP, else the LAST X-Forwarded-For
    entry. The first entry is the client's own claim — reading it let an attacker try a new
    "address" with every password, and an empty one locked the real user out everywhere.
    """
    meta = request.META
    if settings.BEHIND_TLS_PROXY:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        for candidate in (meta.get("HTTP_X_REAL_IP", "").strip(), forwarded[-1]):
            if _is_ip(candidate):
                return candidate
    return meta.get("REMOTE_ADDR", "")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

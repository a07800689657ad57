"""HTTP helpers shared by every app's views."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpResponseRedirect


def see_other(url: str) -> HttpResponseRedirect:
    """303 after a POST: the browser GETs `url`, and reloading it does not post again."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


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

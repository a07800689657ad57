"""One-time passwords carried from the POST that made them to the page that shows them, once.

After a POST the browser is sent on (303) to the page that shows the result, so the password has
to wait somewhere for one request. It is never written anywhere in clear: the session (a database
row) keeps it encrypted with a random key that only the browser holds, in a cookie that lives two
minutes; the page that shows it takes both and deletes both. Reloading that page, going back to
it, or reading the session table afterwards shows nothing.

The cipher is a keystream of HMAC-SHA256 blocks (key, counter) XORed with the text: a fresh
256-bit key per use, never reused, so nothing more elaborate is needed (and the standard library
has no AES).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets

from django.utils.cache import add_never_cache_headers

SESSION_KEY = "people.reveal"
COOKIE = "people_reveal"
COOKIE_MAX_AGE = 120  # seconds: the redirect that follows the POST


def _keystream(key: bytes, length: int) -> bytes:
    blocks = (
        hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha256).digest()
        for counter in range(-(-length // 32))
    )
    return b"".join(blocks)[:length]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(key, len(data)), strict=True))


def stash(request, response, payload: dict) -> None:
    """Keep `payload` (JSON-able) for the next page of this browser, sealed."""
    key = secrets.token_bytes(32)
    sealed = _xor(json.dumps(payload).encode(), key)
    request.session[SESSION_KEY] = base64.b64encode(sealed).decode()
    response.set_cookie(
        COOKIE,
        base64.urlsafe_b64encode(key).decode(),
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure(),
    )


def take(request) -> dict | None:
    """The payload stashed for this browser, if any: gone from the session afterwards. The view
    that shows it passes its response to `forget`."""
    sealed = request.session.pop(SESSION_KEY, None)
    raw_key = request.COOKIES.get(COOKIE)
    if not sealed or not raw_key:
        return None
    try:
        payload = json.loads(_xor(base64.b64decode(sealed), base64.urlsafe_b64decode(raw_key)))
    except (binascii.Error, ValueError):  # a key of another stash, or damaged: nothing to show
        return None
    return payload if isinstance(payload, dict) else None


def forget(request, response):
    """Deletes the key's cookie and keeps the page that showed a password out of every cache
    (the back button must not show it again)."""
    if COOKIE in request.COOKIES:
        response.delete_cookie(COOKIE, samesite="Strict")
        add_never_cache_headers(response)
    return response

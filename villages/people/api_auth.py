"""Who calls the JSON API (config/api.py): a personal access token (`Authorization: Bearer
rjt_…`, villages/people/tokens.py) or the browser's session (the site's own pages, with Django's
CSRF check on writes). Either way `request.user` is the account whose roles and jurisdiction
every selector and service then apply — a token's own account acts like a person.

Each token has its own rate (requests per minute, counted in the default cache: with REDIS_URL
one count for every web process; without, each process counts its own share).
"""

from __future__ import annotations

import math
import time
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import JsonResponse
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.throttling import BaseThrottle

from core.api import error_body
from core.errors import Forbidden
from villages.people.tokens import token_authenticate

WINDOW_SECONDS = 60


class TokenAuth(HttpBearer):
    openapi_description = "A personal access token made on the people page (rjt_…)."

    def authenticate(self, request, token: str):
        found = token_authenticate(token)
        if found is None:
            return None
        request.user = found.user
        request.access_token = found
        return found.user


class PageSession(SessionAuth):
    """The logged-in browser (the site's own scripts); an inactive account is nobody."""

    openapi_description = "The session cookie of a logged-in user; writes need the CSRF token."

    def _get_key(self, request):
        try:
            return super()._get_key(request)
        except HttpError as error:
            if error.status_code != 403:
                raise
            # The pages' wording for a missing or stale CSRF token (templates/403_csrf.html).
            detail = (
                _("This page has expired")
                + " — "
                + _(
                    "Nothing was saved: the form was open too long, or this browser blocks "
                    "cookies. Go back, reload the page, and send it again."
                )
            )
            raise Forbidden(detail) from None

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


def within_rate(token) -> bool:
    """Counts one call of `token` in this clock minute: whether it is within its rate."""
    key = f"api-rate:{token.pk}:{int(time.time() // WINDOW_SECONDS)}"
    cache.add(key, 0, WINDOW_SECONDS * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, WINDOW_SECONDS * 2)
        count = 1
    return count <= token.rate_per_minute


def rest_of_window() -> float:
    return WINDOW_SECONDS - time.time() % WINDOW_SECONDS


class TokenRate(BaseThrottle):
    """At most the token's `rate_per_minute` calls in each clock minute; the 429's Retry-After
    is the rest of that minute."""

    def allow_request(self, request) -> bool:
        token = getattr(request, "access_token", None)
        if token is None:
            return True  # the browser's session: the pages' own limits apply
        return within_rate(token)

    def wait(self) -> float:
        return rest_of_window()


def login_or_token_required(view):
    """For the few pages other systems fetch by the URLs the API gives (an evidence photo):
    with `Authorization: Bearer …` the token's account is the user (same rate, same rules),
    without it the login as for every page. Only for views that change nothing (GET)."""

    page = login_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return page(request, *args, **kwargs)
        token = token_authenticate(header.removeprefix("Bearer ").strip())
        if token is None:
            detail = _(
                "Authenticate with a valid access token (Authorization: Bearer …) or log in."
            )
            return JsonResponse(error_body(detail), status=401)
        if not within_rate(token):
            detail = _("Too many requests for this token; retry after the time in Retry-After.")
            response = JsonResponse(error_body(detail), status=429)
            response["Retry-After"] = str(math.ceil(rest_of_window()))
            return response
        request.user = token.user
        return view(request, *args, **kwargs)

    return wrapped

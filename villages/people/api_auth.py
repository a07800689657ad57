"""Who calls the JSON API (config/api.py): a personal access token (`Authorization: Bearer
rjt_…`, villages/people/tokens.py) or the browser's session (the site's own pages, with Django's
CSRF check on writes). Either way `request.user` is the account whose roles and jurisdiction
every selector and service then apply — a token's own account acts like a person.

Each token has its own rate (requests per minute, counted in the default cache: with REDIS_URL
one count for every web process; without, each process counts its own share).
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.throttling import BaseThrottle

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


class TokenRate(BaseThrottle):
    """At most the token's `rate_per_minute` calls in each clock minute; the 429's Retry-After
    is the rest of that minute."""

    def allow_request(self, request) -> bool:
        token = getattr(request, "access_token", None)
        if token is None:
            return True  # the browser's session: the pages' own limits apply
        key = f"api-rate:{token.pk}:{int(time.time() // WINDOW_SECONDS)}"
        cache.add(key, 0, WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, WINDOW_SECONDS * 2)
            count = 1
        return count <= token.rate_per_minute

    def wait(self) -> float:
        return WINDOW_SECONDS - time.time() % WINDOW_SECONDS

"""A form sent after the session ended is not thrown away.

User testing: a 12-hour session that expired while a form was open (on a slow link, after minutes
of typing and uploading) sent the user to the login page, and what he had typed was gone. The
field forms keep their records on the phone (field_queue.js); every other form is covered here.

When a POST from a browser that is no longer logged in is answered with the way to the login
page, what it carried — its fields, but not the CSRF token, passwords or files — is kept in the
session (Django's login keeps an anonymous session's data), and the login page's `next` becomes
the page the form was on (its Referer, when it is of this site) instead of the form's action.
After the login, that page puts the fields back into the same form (`kept_form` in base.html,
static/js/kept_form.js) and says so, and that photos must be chosen again.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

SESSION_KEY = "people.interrupted_form"
# Kept for the time a login takes; an older one is not put into a form any more.
KEPT_SECONDS = 60 * 60
# What is never kept: the CSRF token, and passwords (the login and password forms).
NOT_KEPT = {"csrfmiddlewaretoken", "password", "old_password", "new_password1", "new_password2"}
MAX_CHARS = 64 * 1024  # a session is no place for more


def _login_redirect(response) -> bool:
    if response.status_code not in (301, 302, 303) or "Location" not in response:
        return False
    return urlsplit(response["Location"]).path == resolve_url(settings.LOGIN_URL)


def _page_of(request) -> str | None:
    """The page the form was on: its Referer's path and query, when it is of this site."""
    referer = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(referer)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _fields(request) -> tuple[list[list[str]], bool] | None:
    try:
        fields = [
            [name, value]
            for name, values in request.POST.lists()
            if name not in NOT_KEPT
            for value in values
        ]
        has_files = bool(request.FILES)
    except (BadRequest, MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, OSError):
        return None
    if not fields or sum(len(name) + len(value) for name, value in fields) > MAX_CHARS:
        return None
    return fields, has_files


class InterruptedFormMiddleware:
    """Keeps what a POST carried when it is sent to log in first (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.method == "POST"
            and not request.user.is_authenticated
            and "application/json" not in request.headers.get("Accept", "")  # the field queue
            and _login_redirect(response)
        ):
            self.keep(request, response)
        return response

    def keep(self, request, response) -> None:
        page = _page_of(request)
        kept = _fields(request) if page else None
        if kept is None:
            return
        fields, has_files = kept
        request.session[SESSION_KEY] = {
            "page": page,
            "action": request.path,
            "fields": fields,
            "files": has_files,
            "at": time.time(),
        }
        location = urlsplit(response["Location"])
        query = parse_qs(location.query)
        query["next"] = [page]
        response["Location"] = location._replace(query=urlencode(query, doseq=True)).geturl()


def kept_form_take(request) -> dict | None:
    """The form kept for the page being shown to its (now logged in) user, taken once."""
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or user is None or not user.is_authenticated:
        return None
    kept = session.get(SESSION_KEY)
    if not kept or kept.get("page") != request.get_full_path():
        return None
    del session[SESSION_KEY]
    if time.time() - kept.get("at", 0) > KEPT_SECONDS:
        return None
    return {"action": kept["action"], "fields": kept["fields"], "files": kept["files"]}

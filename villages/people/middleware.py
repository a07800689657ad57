"""Sends a user who logged in with a one-time password to the password page until he has chosen
his own (villages/people/services.py sets the duty, the password page clears it).

The duty is read once, when he logs in (`flag_on_login`, connected in villages/apps.py), and kept
in his session: other requests cost no query. Resetting a password changes it, which ends the
person's sessions, so the next login reads the duty again.
"""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import reverse

from villages.people import selectors

SESSION_FLAG = "people.must_change_password"
# What a user with the duty may still open: the password page, and the way out; and what the
# browser asks for by itself on every page (the icon, the app manifest, the service worker),
# which would otherwise be answered with the password page.
EXEMPT = (
    "password_change",
    "logout",
    "login",
    "set_language",
    "favicon",
    "manifest",
    "worker_script",
)


def flag_on_login(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    if selectors.must_change_password(user):
        request.session[SESSION_FLAG] = True
    else:
        request.session.pop(SESSION_FLAG, None)


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt: set[str] | None = None

    def __call__(self, request):
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.get(SESSION_FLAG)
            and request.user.is_authenticated
            and request.path_info not in self.exempt()
        ):
            return redirect("password_change")
        return self.get_response(request)

    def exempt(self) -> set[str]:
        if self._exempt is None:  # the URL conf is complete only once requests come in
            self._exempt = {reverse(name) for name in EXEMPT}
        return self._exempt

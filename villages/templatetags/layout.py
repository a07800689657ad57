"""`{% main_nav unacked %}` and `{% field_strings %}`: the parts of base.html that every page
shows and that depend only on the language and on which permissions the user holds — rendered
once per process for each of those and then reused. Rendering them on every request was a
quarter of the layout's cost (1.1 of 4.4 ms of a logged-in page, in-process, 2026-12-07).

The menu's template sees only `can` (the permissions in NAV_PERMS the user holds), `staff` and
`unacked` (the bulletins badge, counted by the page: a count is part of the key, not a query).
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf
from django.utils.autoreload import file_changed
from django.utils.translation import get_language

from villages import access

register = template.Library()

NAV_TEMPLATE = "layout/nav.html"
# Every `can.*` the menu's template asks (a test compares them with the template).
NAV_PERMS = (
    "site.patrol", "ticket.submit", "toilet.work", "city.dashboard", "dashboard.view",
    "ticket.view", "site.view", "grade.view", "bulletin.view", "toilet.view", "jobs.view",
    "people.manage", "imports.run", "county.configure",
)  # fmt: skip


@register.simple_tag(takes_context=True)
def main_nav(context, unacked=0) -> str:
    # The user base.html shows (the auth context processor's), or the request's.
    user = context.get("user") or getattr(context.get("request"), "user", None)
    if user is None:
        return ""
    held = tuple(perm for perm in NAV_PERMS if access.allows(user, perm))
    return _nav(_place(), held, bool(user.is_staff), int(unacked or 0))


@register.simple_tag
def field_strings() -> str:
    return _field_strings(_place())


def _place() -> tuple:
    """What the same template renders differently for: the language and where the URLs point."""
    return get_language(), get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF


@lru_cache(maxsize=512)  # languages × sets of permissions × badge counts, a few KB each
def _nav(place: tuple, held: tuple[str, ...], staff: bool, unacked: int) -> str:
    can: dict[str, dict[str, bool]] = {}
    for perm in NAV_PERMS:
        area, action = perm.split(".")
        can.setdefault(area, {})[action] = perm in held
    return render_to_string(NAV_TEMPLATE, {"can": can, "staff": staff, "unacked": unacked})


@lru_cache(maxsize=16)
def _field_strings(place: tuple) -> str:
    return render_to_string("layout/field_strings.html")


@receiver(file_changed)
def _template_edited(sender, file_path, **kwargs) -> None:
    """`make serve` reloads templates when one is edited, without a restart: so does this."""
    if file_path.suffix == ".html":
        _nav.cache_clear()
        _field_strings.cache_clear()

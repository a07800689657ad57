"""The field home's list of sites still due this month, rendered once per scope and kept in
Django's cache (settings.CACHES): an inspector opens the page at every start and after every
patrol, and a county's list is a hundred sites and more, each a line to render.

The list shows nothing of the user but his scope: users whose patrol scope is the same get the
same list. Its key holds that scope, the month, the version of the rows it is made of
(selectors.due_version: any patrol of the month, any site saved), the language and the release;
a write changes the key, whichever process made it. What no key sees (a town renamed) shows
after inspections.sites.scan_page.PART_SECONDS at most.
"""

from __future__ import annotations

import hashlib
from datetime import date

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from inspections.field import selectors
from inspections.sites.scan_page import PART_SECONDS, release
from villages import access

DUE_TEMPLATE = "inspections/field_home_due.html"


def due_list(*, user, today: date) -> SafeString:
    """The sites `user` still owes patrols this month, as the page's HTML section."""
    key = _key(user, today)
    html = cache.get(key)
    if html is None:
        due = selectors.sites_due(user=user, today=today)
        html = render_to_string(DUE_TEMPLATE, {"due": due})
        cache.set(key, html, PART_SECONDS)
    return mark_safe(html)  # our own HTML


def _key(user, today: date) -> str:
    scope = access.scope(user, "site.patrol")  # what selectors.patrol_sites filters by
    shown = (
        scope.everywhere,
        sorted(scope.county_codes),  # each county its own (the tenant)
        sorted(scope.town_codes),
        sorted(scope.village_codes),
        selectors.due_version(today=today),
    )
    digest = hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()
    return f"field:{release()}:due:{today:%Y-%m}:{digest}:{get_language()}"

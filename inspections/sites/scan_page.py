"""The scan page in cached parts: what an inspector opens at every water site, on a phone, often
on a slow network, by the hundreds a day.

Every part the page shows of its site — the header, the open tickets, the last patrols — is HTML
rendered once and kept in Django's cache (settings.CACHES), under a key made of what the part
shows: the version of its rows, read by the page's one query of the site (selectors.scan_site),
the language, the time zone and the release (the templates, the form and the translations). A
write that changes what a part shows changes its key, whichever process made it: a cache of each
process's own never serves an outdated part, and nothing has to be deleted. What no key sees (an
inspector who changes his name, a town renamed) shows after PART_SECONDS at most.

The empty patrol form's fields — most of the page's rendering, widget by widget — are the same
on every site's page, so they are rendered once for all sites (a site's page is opened a few
times a month; the form is on every page), once in each process, and kept in its memory.

The parts show nothing of the user: whoever may see the site sees the same site. The form's
per-request values — the CSRF token and the submission key — are never in the cache: the cached
fields hold a slot for each, filled in on every request.
"""

from __future__ import annotations

import hashlib
import uuid
from functools import cache as once
from pathlib import Path

import django
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.middleware.csrf import get_token
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from inspections.models import PatrolPolicy, WaterSite
from inspections.sites import selectors
from inspections.sites.forms import PatrolForm

PART_SECONDS = 6 * 3600
PARTS = {
    "header": "inspections/scan_header.html",
    "tickets": "inspections/scan_tickets.html",
    "patrols": "inspections/scan_patrols.html",
}
FIELDS_TEMPLATE = "inspections/patrol_form_fields.html"
# The empty form's fields by (release, policy distance, language), in this process.
_FIELDS: dict[tuple, str] = {}
FIELDS_KEPT = 64
# Stand in for the per-request values in the cached form fields: letters and digits, which
# escaping leaves as they are, in HTML that holds no text of a site or a user.
CSRF_SLOT = "csrfslotq7Vd2mXk9R"
KEY_SLOT = "keyslotq7Vd2mXk9R"


def scan_parts(*, site: WaterSite) -> dict[str, SafeString]:
    """The header, open tickets and last patrols of `site` (from selectors.scan_site), as HTML:
    one cache round trip; a part not cached is rendered and kept."""
    versions = _versions(site)
    keys = {name: _key(name, site.pk, versions[name]) for name in PARTS}
    found = cache.get_many(keys.values())
    parts, missing = {}, {}
    for name, key in keys.items():
        if key in found:
            parts[name] = found[key]
        else:
            parts[name] = missing[key] = render_to_string(PARTS[name], _part_context(name, site))
    if missing:
        cache.set_many(missing, PART_SECONDS)
    return {name: mark_safe(html) for name, html in parts.items()}  # our own HTML


def patrol_form_fields(request, *, policy: PatrolPolicy) -> SafeString:
    """The inside of the empty patrol form (patrol_form.html's fields) with this request's CSRF
    token and a new submission key. It shows nothing of a site (the form's opening tag, which
    does, is rendered for each page), so every site's page takes the same HTML from the cache:
    rendered once per policy, language and release in each process, and kept in its memory: it
    is asked on every scan, and a read of the shared cache cost more than the rest of this
    (0.37 ms, files under DATA_DIR, 2026-12-07); a few KB for each distance and language."""
    key = (release(), policy.max_distance_m, get_language())
    html = _FIELDS.get(key)
    if html is None:
        html = _fields_html(policy)
        if html.count(CSRF_SLOT) != 1 or html.count(KEY_SLOT) != 1:
            raise ImproperlyConfigured(f"{FIELDS_TEMPLATE} must show each slot once.")
        if len(_FIELDS) >= FIELDS_KEPT:  # a release edited under runserver, over and over
            _FIELDS.clear()
        _FIELDS[key] = html
    filled = html.replace(CSRF_SLOT, get_token(request)).replace(KEY_SLOT, str(uuid.uuid4()))
    return mark_safe(filled)  # our HTML, a token and a UUID


def _fields_html(policy: PatrolPolicy) -> str:
    context = {"form": PatrolForm(initial={"key": KEY_SLOT}), "policy": policy}
    return render_to_string(FIELDS_TEMPLATE, context | {"csrf_token": CSRF_SLOT})


def _part_context(name: str, site: WaterSite) -> dict:
    if name == "tickets":
        # Most sites never had a ticket: their version (count first) says so, no query needed.
        none = site.tickets_version.startswith("0.")
        tickets = [] if none else list(selectors.open_ticket_lines(site=site))
        return {"site": site, "tickets": tickets}
    if name == "patrols":
        return {"site": site, "patrols": selectors.recent_patrols(site=site)}
    return {"site": site}


def _versions(site: WaterSite) -> dict[str, str]:
    return {
        "header": _site_digest(site),
        "tickets": site.tickets_version,
        "patrols": site.patrols_version,
    }


# What the header shows of a site: any change of these makes a new header.
SHOWN_FIELDS = (
    "code", "name", "state", "kind", "area_m2", "list_level", "treatment",
    "county_person", "county_phone", "town_person", "town_phone", "village_person",
    "village_phone",
)  # fmt: skip


def _site_digest(site: WaterSite) -> str:
    shown = [getattr(site, name) for name in SHOWN_FIELDS]
    shown += [site.town.name, site.village.name if site.village else ""]
    return hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()


def _key(part: str, site_id: int, version: str) -> str:
    place = f"{get_language()}.{timezone.get_current_timezone_name()}"
    # A digest: a ticket's time as the database writes it has a space, which memcached refuses.
    version = hashlib.blake2b(version.encode(), digest_size=12).hexdigest()
    return f"scan:{release()}:{part}:{site_id}:{version}:{place}"


def release() -> str:
    """A digest of what renders the cached parts besides the rows (this page's and the field
    home's list): the templates, the form's module, the translations and Django. A shared cache
    (Redis) outlives a deploy; the parts of the release before it are not shown by the new one.
    Read once per process, except with DEBUG on, where a template edited under runserver shows
    at once."""
    return _release_digest() if settings.DEBUG else _release_once()


@once
def _release_once() -> str:
    return _release_digest()


def _release_digest() -> str:
    digest = hashlib.blake2b(django.get_version().encode(), digest_size=8)
    names = [*PARTS.values(), FIELDS_TEMPLATE, "inspections/site_facts.html"]
    names += ["inspections/patrol_rows.html", "workflows/form_fields.html"]
    names += ["inspections/field_home_due.html"]  # inspections.field.home's
    for name in names:
        digest.update(get_template(name).template.source.encode())
    files = [Path(__file__).with_name("forms.py")]
    for path in settings.LOCALE_PATHS:
        files += sorted(Path(path).glob("*/LC_MESSAGES/django.mo"))
    for path in files:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()

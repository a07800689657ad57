"""The field app's pages and files. The service worker and the manifest are served from the
site's root (a service worker controls only the paths under its own URL, and the QR labels
open /s/<token>); both change with the static files they name, so they are never cached long.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from inspections.field import home, selectors
from inspections.models import PatrolPolicy
from inspections.sites.scan_page import patrol_form_fields
from villages import access
from villages.models import County

# What the offline pages need besides their HTML, fetched into the phone's cache on download.
SHELL_ASSETS = (
    "css/app.css",
    "css/sites.css",
    "js/field_store.js",
    "js/field_queue.js",
    "js/photo_buttons.js",
    "js/photo_shrink.js",
    "js/patrol.js",
    "js/scan_offline.js",
    "js/ticket_actions.js",
    "js/field_home.js",
    "js/table_cards.js",
    "icons/app-192.png",
)


@login_required
def field_home(request):
    """The phone's home in the field: this month's sites still to patrol, the day's download,
    the queue."""
    due = home.due_list(user=request.user, today=timezone.localdate())
    return render(request, "inspections/field_home.html", {"due_html": due})


@login_required
def scan_shell(request):
    """The scan page without a site: the service worker answers a QR scanned offline with it,
    and its script fills in the site from the downloaded pack."""
    policy = _policy_of(request.user)
    context = {"policy": policy, "fields_html": patrol_form_fields(request, policy=policy)}
    return render(request, "inspections/scan_offline.html", context)


def _policy_of(user) -> PatrolPolicy:
    """The patrol policy the offline scan page states (its distance limit): the user's county's
    — the first by code if he works in several, any for a superuser; the defaults if there is
    no county yet."""
    counties = sorted(access.scope_of(user).tenant_codes)
    county = counties[0] if counties else County.objects.values_list("pk", flat=True).first()
    return PatrolPolicy.cached(county) if county else PatrolPolicy()


@never_cache
@login_required
def field_pack(request):
    pack = selectors.field_pack(user=request.user, today=timezone.localdate())
    pages = [reverse("field_home"), reverse("scan_shell")] + [job["url"] for job in pack["jobs"]]
    pack |= {
        "user": str(request.user.pk),
        "made_at": timezone.localtime().isoformat(),
        "pages": pages,
        "assets": [static(name) for name in SHELL_ASSETS],
    }
    return JsonResponse(pack)


@never_cache
@login_required
def field_me(request):
    """Who is logged in, and a fresh CSRF token: the queue sends a phone's records only as the
    user who made them, with the token of the session it sends in (a login renews it). Logged
    out, the login page's redirect says so."""
    return JsonResponse({"user": str(request.user.pk), "csrf": get_token(request)})


def worker_script(request):
    """/sw.js. Its version is a digest of what it caches: a new release's static files make a
    new worker, which the phones install on their next visit."""
    source = _read_static("js/sw.js")
    version = hashlib.sha256(
        source.encode() + "".join(static(name) for name in SHELL_ASSETS).encode()
    ).hexdigest()[:12]
    config = {
        "version": version,
        "shell": reverse("scan_shell"),
        "home": reverse("field_home"),
        "scan_prefix": reverse("scan", args=["TOKEN"]).removesuffix("TOKEN"),
        "static_prefix": settings.STATIC_URL,
        "store": static("js/field_store.js"),
        "offline": _("No network, and this page was not downloaded to the phone."),
    }
    body = f"const FIELD = {json.dumps(config, ensure_ascii=False)};\n{source}"
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


def manifest(request):
    """The web app manifest: "add to home screen" opens the field page full-screen."""
    data = {
        "name": _("Rural living environment") + " · " + _("Field"),
        "short_name": _("Field patrol"),
        "lang": request.LANGUAGE_CODE,
        "start_url": reverse("field_home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f6f43",
        "icons": [
            {"src": static("icons/app-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("icons/app-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


def _read_static(name: str) -> str:
    path = finders.find(name)
    with open(path, encoding="utf-8") as handle:
        return handle.read()

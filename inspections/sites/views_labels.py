"""Printable QR label sheets for water-site signboards (PDF).

GET /sites/labels.pdf prints every listed site the user may print; `?town=<12-digit code>` one
town's; `?site=<code>` (repeatable) the chosen ones. The task force prints county-wide, a town
officer his own town's. Other roles: 403. A malformed parameter: 400. A town or site that does
not exist, is outside the user's towns, or (a site) is removed from the list: 404, the same
answer for all three so an officer cannot probe another town's register.

A sheet is made once per version of its sites (core.pdf.cached_pdf): 133 labels took 2.5–11.6 s
(their QR codes 1.4 s of it), and offices print the same town's sheet again and again.
"""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ImproperlyConfigured
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.pdf import cached_pdf
from inspections.models import WaterSite
from inspections.sites.labels import label_sheet_context, label_sheet_key
from villages import access
from villages.models import Town

# Labels are issued by the offices that put up the signboards: the task force county-wide, a
# town officer for his town. Inspectors and village admins see sites but issue no labels.
TOWN_CODE = re.compile(r"\d{12}")
SITE_CODE = re.compile(r"[\w.-]{1,32}")  # WaterSite.code is at most 32 characters


@login_required
@require_safe
def labels_pdf(request):
    access.require(request.user, "site.labels", action=_("print QR labels"))
    town_code, site_codes = _parameters(request.GET)
    sites = _printable_sites(request.user, town_code=town_code, site_codes=site_codes)
    base_url = label_base_url(request)
    pdf = cached_pdf(
        template_name="inspections/labels.html",
        key=label_sheet_key(sites=sites, base_url=base_url),
        context=lambda: label_sheet_context(sites=sites, base_url=base_url),
        request=request,
    )
    return FileResponse(
        io.BytesIO(pdf),
        filename=_filename(sites),
        content_type="application/pdf",
    )


def _parameters(query) -> tuple[str | None, list[str]]:
    towns = query.getlist("town")
    if len(towns) > 1 or (towns and not TOWN_CODE.fullmatch(towns[0])):
        raise BadRequest(_("town must be one 12-digit division code."))
    site_codes = query.getlist("site")
    if not all(SITE_CODE.fullmatch(code) for code in site_codes):
        raise BadRequest(_("site must be a water site code."))
    return (towns[0] if towns else None), list(dict.fromkeys(site_codes))


def _printable_sites(user, *, town_code: str | None, site_codes: list[str]) -> list[WaterSite]:
    """The listed sites `user` may print, narrowed by town and codes; 404 if any is missing."""
    # Only the printing memberships count: an officer of 胡集镇 who is also a county-wide
    # inspector still prints 胡集镇's labels only.
    sites = WaterSite.objects.scoped(user, town="town_id", perm="site.labels").listed()
    if town_code:
        _check_town(user, town_code)
        sites = sites.filter(town_id=town_code)
    if site_codes:
        sites = sites.filter(code__in=site_codes)
    found = list(sites.select_related("town__county", "village").order_by("town_id", "code"))
    missing = sorted(set(site_codes) - {site.code for site in found})
    if missing:
        raise Http404(
            _("No such listed site in your jurisdiction: %(codes)s") % {"codes": ", ".join(missing)}
        )
    if not found:
        raise Http404(_("No sites to print."))
    return found


def _check_town(user, code: str) -> None:
    # One answer for a town that does not exist and a town of someone else's.
    if not Town.objects.scoped(user, town="code", perm="site.labels").filter(code=code).exists():
        raise Http404(_("No such town in your jurisdiction: %(code)s") % {"code": code})


def label_base_url(request) -> str:
    # Where phones reach the system; the host the office PC printed from may be an intranet
    # address no phone in a village can open (README: SITE_BASE_URL).
    configured = settings.SITE_BASE_URL
    if configured and not configured.startswith(("https://", "http://")):
        # Without a scheme every code would hold a relative URL, found out on the signboards.
        raise ImproperlyConfigured("SITE_BASE_URL must start with https:// or http://")
    return configured or request.build_absolute_uri("/")


def _filename(sites: list[WaterSite]) -> str:
    """二维码标牌-胡集镇-2026-11-26.pdf: the town's name when one town's labels are printed."""
    towns = {site.town_id: site.town for site in sites}
    place = next(iter(towns.values())).name if len(towns) == 1 else sites[0].town.county.name
    return f"{_('QR-labels')}-{place}-{timezone.localdate().isoformat()}.pdf"

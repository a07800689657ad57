"""The county's configuration page (/county/settings/): the task force sees, for each setting,
the value in force, the default that applies when it is left empty, and who changed the county's
configuration last and when; it changes them there (villages.configuration). Bad input: 400 with
the reason, nothing stored. Someone holding county.configure in several counties (a superuser)
chooses the county with ?county=<code>; a county outside his reach answers 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from villages import access
from villages.configuration import (
    FIELDS,
    county_config,
    county_settings_of,
    county_settings_update,
    default_values,
)
from villages.http import see_other
from villages.models import County

PERM = "county.configure"


def _counties(user) -> list[County]:
    granted = access.scope(user, PERM)
    counties = County.objects.only("code", "name").order_by("code")
    if not granted.everywhere:
        counties = counties.filter(code__in=granted.county_codes)
    return list(counties)


def _county(request) -> tuple[County, list[County]]:
    access.require(request.user, PERM, action=_("change the county's configuration"))
    counties = _counties(request.user)
    wanted = request.GET.get("county", "")
    chosen = next((c for c in counties if c.code == wanted), None) if wanted else None
    if (wanted and chosen is None) or not counties:
        raise Http404(_("Not found, or outside your jurisdiction."))
    return chosen or counties[0], counties


def _page(request, county, counties, *, status=200, error="", posted=None):
    row = county_settings_of(county)
    defaults = default_values(county)
    rows = [
        {
            "name": name,
            "label": label,
            "own": posted.get(name, "") if posted is not None else (getattr(row, name) or ""),
            "default": defaults[name],
            "multiline": name == "bulletin_cc",
        }
        for name, label in FIELDS
    ]
    context = {
        "county": county,
        "counties": counties,
        "rows": rows,
        "row": row,
        "config": county_config(county),
        "error": error,
    }
    return render(request, "villages/county_settings.html", context, status=status)


@login_required
def county_settings(request):
    county, counties = _county(request)
    if request.method != "POST":
        return _page(request, county, counties)
    try:
        county_settings_update(county=county, by=request.user, values=request.POST)
    except ApplicationError as error:
        return _page(request, county, counties, status=400, error=str(error), posted=request.POST)
    messages.success(request, _("The county's configuration was saved."))
    url = reverse("county_settings")
    return see_other(f"{url}?county={county.code}" if len(counties) > 1 else url)


urlpatterns = [path("county/settings/", county_settings, name="county_settings")]

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.xlsx import XLSX
from villages import access, selectors
from villages.filtersets import VillageFilterSet
from villages.import_templates import template_get, template_xlsx
from villages.models import Town
from villages.scope import get_visible_or_404

PAGE_SIZE = 50


@login_required
def home(request):
    scope = access.scope_of(request.user)
    towns = list(selectors.town_list(user=request.user)) if not scope.is_empty else []
    context = {
        "towns": towns,
        "role_labels": [role.label for role in access.held_roles(request.user)],
        "held_roles": [role.value for role in access.held_roles(request.user)],
        "own_villages": selectors.village_list(user=request.user).filter(
            code__in=scope.village_codes
        )
        if scope.village_codes
        else [],
        "counties": selectors.county_overview(user=request.user) if scope.county_wide else [],
        "cities": selectors.supervised_cities(user=request.user),
    }
    return render(request, "villages/home.html", context)


@login_required
def town_list(request):
    towns = selectors.town_list(user=request.user)
    return render(request, "villages/town_list.html", {"towns": towns})


@login_required
def town_detail(request, code: str):
    town = get_visible_or_404(Town.objects.select_related("county"), request.user, code=code)
    villages = selectors.village_list(user=request.user).filter(town=town)
    return render(
        request,
        "villages/town_detail.html",
        {
            "town": town,
            "page": _page(request, villages),
            "total": villages.count(),
            "query": _query_without_page(request),
        },
    )


@login_required
def village_list(request):
    filterset = VillageFilterSet(
        request.GET or None, queryset=selectors.village_list(user=request.user), user=request.user
    )
    villages = filterset.qs if filterset.is_bound else filterset.queryset
    return render(
        request,
        "villages/village_list.html",
        {
            "filter": filterset,
            "page": _page(request, villages),
            "query": _query_without_page(request),
        },
    )


@login_required
def village_detail(request, code: str):
    village = get_visible_or_404(
        selectors.village_detail_queryset(user=request.user), request.user, code=code
    )
    naturals = selectors.village_list(user=request.user).filter(parent=village)
    return render(
        request, "villages/village_detail.html", {"village": village, "naturals": naturals}
    )


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    """The current filters for the pagination links (repeated keys kept)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def import_template(request, kind: str):
    """The blank .xlsx of an import (villages.import_templates), for the task force."""
    access.require(request.user, "imports.run", action=_("download the import templates"))
    try:
        template = template_get(kind)
    except KeyError:
        raise Http404 from None
    return FileResponse(
        io.BytesIO(template_xlsx(template)),
        as_attachment=True,
        filename=template.filename,
        content_type=XLSX,
    )

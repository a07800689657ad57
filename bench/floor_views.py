"""Floors for the list benchmarks: the same template, constant in-memory rows, no ticket query."""

from __future__ import annotations

import io
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from villages.models import Town, Village
from workflows.models import RectificationTicket
from workflows.tickets.filtersets import RectificationFilterSet
from workflows.tickets.views import _list_context

_ROWS: list[RectificationTicket] = []


def constant_rows() -> list[RectificationTicket]:
    if not _ROWS:
        town = Town.objects.get(code="370828102000")
        village = Village.objects.filter(town=town).first()
        today = timezone.localdate()
        for n in range(50):
            ticket = RectificationTicket(
                number=f"ZG-2026-{n + 1:07d}",
                town=town,
                village=village,
                description="河道岸边堆放生活垃圾",
                source_kind="patrol",
                deadline=today + timedelta(days=n - 25),
                created_at=timezone.now(),
                state="assigned",
            )
            ticket.overdue_days = max(25 - n, 0)
            _ROWS.append(ticket)
    return _ROWS


def ticket_list_floor(request):
    defaults = RectificationFilterSet.defaults(user=request.user)
    filterset = RectificationFilterSet(
        defaults, queryset=RectificationTicket.objects.none(), user=request.user
    )
    page = Paginator(constant_rows(), 50).get_page(1)
    context = _list_context(filterset, page, sorts=("number", "town", "deadline", "created"))
    return render(request, "workflows/ticket_list.html", context)


# --- Floors of bench_scan: served by the same gunicorn, behind the same middleware -------------


@login_required
def logged_in_floor(request):
    """The least a logged-in page costs: routing, the middleware stack, the session and the user
    (login_required reads both, as the scan page does), no query of its own, no template."""
    return HttpResponse("ok")


@login_required
def layout_floor(request):
    """The layout-only page: base.html and nothing of its own, for the same logged-in user —
    the navigation by the user's permissions, the unread counts, the language switch, as every
    page of the site shows them. A page can hardly cost less than this; the scan page aims at
    1.5× it."""
    return render(request, "base.html")


@login_required
def upload_floor(request):
    """The least a patrol POST with photos costs: the above plus receiving the multipart body
    (the CSRF middleware already parsed it: it reads the token field) and taking in each photo as
    any pipeline that keeps a re-encoded copy must — decoded in JPEG draft mode into the 1600 px
    box and encoded once at the pipeline's quality. Nothing is written or stored."""
    from PIL import Image

    from workflows.evidence.services import DISPLAY_MAX_PX, JPEG_QUALITY

    size = 0
    for upload in request.FILES.getlist("photos"):
        with Image.open(upload) as image:
            image.draft("RGB", (DISPLAY_MAX_PX, DISPLAY_MAX_PX))
            image.load()
            encoded = io.BytesIO()
            image.save(encoded, "JPEG", quality=JPEG_QUALITY)
        size += encoded.tell()
    return HttpResponse(f"ok {size}")

"""Notice documents, my notifications, and the job-run log (task force only)."""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.pdf import render_pdf
from villages import access
from villages.http import see_other
from villages.scope import get_visible_or_404
from workflows.jobs import counts_labelled
from workflows.models import JobRun, NoticeDocument, NoticeKind
from workflows.notices import services as notices
from workflows.schedules import job_label

NOTIFICATIONS_SHOWN = 100
JOB_RUNS_SHOWN = 200
OUTBOX_SHOWN = 300


def _document(request, pk: int) -> NoticeDocument:
    queryset = NoticeDocument.objects.select_related("town")
    document = get_visible_or_404(queryset, request.user, pk=pk)
    # Opening the notice, on screen or as PDF, is reading it.
    notices.notifications_mark_read(user=request.user, document=document)
    return document


def _context(document: NoticeDocument, *, user) -> dict:
    return {
        "document": document,
        "title": notices.document_title(document.kind),
        "rows": notices.notice_rows(document, user=user),
        "is_sla": document.kind == NoticeKind.SLA,
        "is_lines": document.kind == NoticeKind.PATROL,
    }


@login_required
def notice_detail(request, pk: int):
    """A notice (逾期整改通知书 / 督办单 / 漏巡提醒) as a page."""
    document = _document(request, pk)
    return render(request, "workflows/notice_detail.html", _context(document, user=request.user))


@login_required
def notice_pdf(request, pk: int):
    """The same notice as the paper document, A4 PDF."""
    document = _document(request, pk)
    pdf = render_pdf(
        template_name="workflows/notice_print.html",
        context=_context(document, user=request.user),
        request=request,
    )
    name = f"{document.number}-{document.town.name}.pdf"
    return FileResponse(io.BytesIO(pdf), filename=name, content_type="application/pdf")


@login_required
def notification_list(request):
    rows = notices.notifications_of(request.user)[:NOTIFICATIONS_SHOWN]
    items = [(row, notices.document_title(row.document.kind)) for row in rows]
    return render(request, "workflows/notifications.html", {"items": items})


@login_required
def job_run_list(request):
    """The scheduled jobs' runs. One run serves every county of the deployment at once, so the
    page is the deployment's: times, errors and totals, no town, ticket or person named."""
    access.require(request.user, "jobs.view", action=_("see the scheduled job runs"))
    runs = JobRun.objects.all()[:JOB_RUNS_SHOWN]
    lines = [(run, job_label(run.name), counts_labelled(run.counts)) for run in runs]
    return render(request, "workflows/job_runs.html", {"lines": lines})


@login_required
def outbox_list(request):
    """Deliveries not made yet of the user's county (their rows name its towns and people):
    pending, failed, outcome unknown, stuck; re-queue from here."""
    access.require(request.user, "jobs.view", action=_("see the outbox"))
    now = timezone.now()
    rows = notices.outbox_pending(request.user)[:OUTBOX_SHOWN]
    items = [(row, notices.outbox_state(row, now=now)) for row in rows]
    return render(request, "workflows/outbox_list.html", {"items": items})


@login_required
@require_POST
def outbox_requeue(request):
    """Re-queue one row (the row's button) or the ticked rows: due now, attempts afresh."""
    access.require(request.user, "jobs.view", action=_("re-queue deliveries"))
    picked = [request.POST["one"]] if request.POST.get("one") else request.POST.getlist("pk")
    pks = [int(pk) for pk in picked if pk.isdigit()]
    count = notices.outbox_requeue(pks=pks, by=request.user)
    text = ngettext("%(n)d delivery re-queued.", "%(n)d deliveries re-queued.", count)
    messages.success(request, text % {"n": count})
    return see_other(reverse("outbox_list"))

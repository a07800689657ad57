"""Notice documents, my notifications, and the job-run log (task force only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _

from villages.scope import get_visible_or_404, require_role
from workflows import notices
from workflows.models import JobRun, NoticeDocument, NoticeKind

NOTIFICATIONS_SHOWN = 100
JOB_RUNS_SHOWN = 200


@login_required
def notice_detail(request, pk: int):
    """A printable notice (逾期整改通知书 / 督办单); opening it marks the user's notification
    read."""
    queryset = NoticeDocument.objects.select_related("town")
    document = get_visible_or_404(queryset, request.user, pk=pk)
    notices.notifications_mark_read(user=request.user, document=document)
    context = {
        "document": document,
        "title": notices.document_title(document.kind),
        "rows": notices.notice_rows(document),
        "is_sla": document.kind == NoticeKind.SLA,
        "is_lines": document.kind == NoticeKind.PATROL,
    }
    return render(request, "workflows/notice_detail.html", context)


@login_required
def notification_list(request):
    rows = notices.notifications_of(request.user)[:NOTIFICATIONS_SHOWN]
    items = [(row, notices.document_title(row.document.kind)) for row in rows]
    return render(request, "workflows/notifications.html", {"items": items})


@login_required
def job_run_list(request):
    require_role(request.user, "task_force", action=_("see the scheduled job runs"))
    runs = JobRun.objects.all()[:JOB_RUNS_SHOWN]
    return render(request, "workflows/job_runs.html", {"runs": runs})

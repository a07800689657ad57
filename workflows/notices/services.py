"""Overdue and SLA notices, in-app notifications and the delivery outbox (services and selectors).

Each issuing job is one transaction of a few set-based statements, however many tickets there
are: per ladder step, one SELECT DISTINCT of the towns with new notices, one INSERT of the
documents those towns lack, one `INSERT … SELECT … ON CONFLICT DO NOTHING` of the notices; then
one INSERT each for notifications and outbox rows. Loops run over steps and towns (at most a few
dozen documents a day), never over tickets.

Idempotency comes from unique constraints (a notice per ticket, step and deadline; a document per
town, day and kind; a notification per user and document; an outbox row per document, channel
and recipient), so a second run, or a re-run after a crash (the transaction rolled back), adds
nothing. Two workers running the same job queue on a JobLock row, so document numbers have
neither gaps nor duplicates.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from urllib.request import Request, urlopen

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.counters import counter_take
from core.dates import local_midnight
from villages import access
from villages.models import Membership
from workflows.models import (
    JobLock,
    NoticeDocument,
    NoticeKind,
    Notification,
    Outbox,
    OverdueNotice,
    OverdueStep,
    RectificationTicket,
    SlaNotice,
    TicketCounter,
    ToiletTicket,
)

# Document numbers are identifiers frozen at issue, not interface text: they stay Chinese in
# every language, like the number printed on a paper 督办单. Counter prefixes fit TicketCounter.
NUMBER_WORD = {
    NoticeKind.REMINDER: "逾提",
    NoticeKind.SUPERVISION: "督",
    NoticeKind.BULLETIN: "拟通",
    NoticeKind.SLA: "管督",
    NoticeKind.PATROL: "漏巡",
}
COUNTER_PREFIX = {
    NoticeKind.REMINDER: "NREM",
    NoticeKind.SUPERVISION: "NSUP",
    NoticeKind.BULLETIN: "NBUL",
    NoticeKind.SLA: "NSLA",
    NoticeKind.PATROL: "NPAT",
}
MAX_ATTEMPTS = 5
STUCK_AFTER_MINUTES = 60  # a send takes seconds; an hour-old claim is a dead worker
DELIVERY_BATCH = 200


def document_title(kind: str) -> str:
    return {
        NoticeKind.REMINDER: _("Notice of overdue rectification"),
        NoticeKind.SUPERVISION: _("Supervision notice on overdue rectification"),
        NoticeKind.BULLETIN: _("Overdue rectification to be put on the next bulletin"),
        NoticeKind.SLA: _("Notice of overdue toilet service tickets"),
        NoticeKind.PATROL: _("Notice of water sites not yet patrolled this month"),
    }[kind]


def document_number(*, kind: str, year: int, value: int) -> str:
    return f"{NUMBER_WORD[kind]}〔{year}〕第{value}号"


# --- issuing ----------------------------------------------------------------------------------


def overdue_notices_issue(*, as_of: date) -> dict[str, int]:
    """Notices for every ladder step reached by `as_of` and not yet issued for the ticket's
    current deadline. A step missed while the cluster was down is issued on the next run."""
    counts = {"notices": 0, "documents": 0, "notifications": 0, "outbox": 0}
    with transaction.atomic():
        _lock("overdue_notices")
        documents: list[NoticeDocument] = []
        for step in OverdueStep.objects.order_by("number"):
            # Step reached: at least `days_past` local days after the deadline, i.e. overdue
            # as of day `days_past - 1` after as_of's (days_past 1: overdue today). The same
            # queryset picks the towns here and, compiled, the rows of the INSERT below.
            reached = RectificationTicket.objects.overdue(
                as_of=as_of - timedelta(step.days_past - 1)
            )
            issued = OverdueNotice.objects.filter(
                ticket=OuterRef("pk"), step=step.number, deadline=OuterRef("deadline")
            )
            fresh = reached.exclude(Exists(issued))
            towns = list(fresh.order_by().values_list("town_id", flat=True).distinct())
            if not towns:
                continue
            documents += _documents_create(towns=towns, kind=step.kind, as_of=as_of)
            counts["notices"] += _overdue_insert(step=step, reached=reached, as_of=as_of)
        counts["documents"] = len(documents)
        counts.update(_recipients_add(documents))
    return counts


def sla_notices_issue(*, as_of: date) -> dict[str, int]:
    """A notice, once per ticket, for toilet tickets still pending past their SLA."""
    cutoff = _sla_cutoff(as_of)
    counts = {"notices": 0, "documents": 0, "notifications": 0, "outbox": 0}
    with transaction.atomic():
        _lock("sla_notices")
        breached = ToiletTicket.objects.sla_breached(now=cutoff)
        fresh = breached.filter(sla_notice__isnull=True)
        towns = list(fresh.order_by().values_list("town_id", flat=True).distinct())
        if not towns:
            return counts
        documents = _documents_create(towns=towns, kind=NoticeKind.SLA, as_of=as_of)
        counts["notices"] = _sla_insert(as_of=as_of, breached=breached)
        counts["documents"] = len(documents)
        counts.update(_recipients_add(documents))
    return counts


def documents_with_lines_issue(
    *, kind: str, as_of: date, lines_by_town: dict[str, list[dict]]
) -> dict[str, int]:
    """Documents whose items another app froze into lines (one per town and day; lines added to
    a document already issued that day), with their notifications and outbox rows. The caller
    makes sure each item is handed over once (its own unique constraint) and holds job_lock."""
    counts = {"notices": 0, "documents": 0, "notifications": 0, "outbox": 0}
    lines_by_town = {town: lines for town, lines in lines_by_town.items() if lines}
    if not lines_by_town:
        return counts
    with transaction.atomic():
        new = _documents_create(towns=lines_by_town, kind=kind, as_of=as_of)
        documents = list(
            NoticeDocument.objects.filter(kind=kind, issued_on=as_of, town_id__in=lines_by_town)
        )
        for document in documents:
            document.lines = [*document.lines, *lines_by_town[document.town_id]]
        NoticeDocument.objects.bulk_update(documents, ["lines"])
        counts["notices"] = sum(len(lines) for lines in lines_by_town.values())
        counts["documents"] = len(new)
        counts.update(_recipients_add(new))
    return counts


def _sla_cutoff(as_of: date) -> datetime:
    """Now when running for today; the end of the local day when re-running for another."""
    if as_of == timezone.localdate():
        return timezone.now()
    return local_midnight(as_of + timedelta(days=1))


def job_lock(name: str) -> None:
    """Hold the job's lock row until the surrounding transaction ends."""
    _lock(name)


def _lock(name: str) -> None:
    # get_or_create survives a concurrent first insert (IntegrityError → get); the FOR UPDATE
    # then holds the row until the job's transaction ends. SQLite serialises writers anyway.
    JobLock.objects.get_or_create(name=name)
    JobLock.objects.select_for_update().get(name=name)


def _documents_create(*, towns: Iterable[str], kind: str, as_of: date) -> list[NoticeDocument]:
    """The documents (town, as_of, kind) that do not exist yet, numbered in one block."""
    existing = set(
        NoticeDocument.objects.filter(kind=kind, issued_on=as_of, town_id__in=towns).values_list(
            "town_id", flat=True
        )
    )
    missing = sorted(set(towns) - existing)
    if not missing:
        return []
    key = {"prefix": COUNTER_PREFIX[kind], "year": as_of.year}
    first = counter_take(TicketCounter, key=key, count=len(missing))
    documents = [
        NoticeDocument(
            number=document_number(kind=kind, year=as_of.year, value=first + i),
            kind=kind,
            town_id=town,
            issued_on=as_of,
        )
        for i, town in enumerate(missing)
    ]
    return NoticeDocument.objects.bulk_create(documents)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _in(values: Sequence) -> str:
    return ", ".join(["%s"] * len(values))


def _execute(sql: str, params: Sequence) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def rule_where(queryset: QuerySet) -> tuple[str, list]:
    """The WHERE clause of a queryset filtering one table on its own columns, as SQL (columns
    qualified by the table's name) and parameters (adapted for the database).

    The raw INSERT … SELECT statements below take their WHERE from here, compiled from the
    ORM's rule (rectification_overdue / toilet_sla_breached in workflows/tickets/models.py), so
    the states, the column and the comparison are written once, there, and the job selects
    exactly the rows RectificationTicket.objects.overdue() / ToiletTicket.objects.sla_breached()
    do."""
    query = queryset.query
    if len(query.alias_map) != 1:
        raise ValueError("a condition with joins cannot be reused in the raw statements")
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    return sql, list(params)


def _overdue_insert(*, step: OverdueStep, reached: QuerySet, as_of: date) -> int:
    """INSERT … SELECT of the step's notices (the tickets `reached` selects), each into its
    town's document of the day."""
    day = connection.ops.adapt_datefield_value(as_of)
    where, where_params = rule_where(reached)
    tickets = _table(RectificationTicket)
    # The WHERE clause is required by SQLite before ON CONFLICT in an INSERT … SELECT (it would
    # otherwise read ON CONFLICT as the join's ON).
    sql = f"""
        INSERT INTO {_table(OverdueNotice)}
            (ticket_id, step, deadline, kind, issued_on, document_id)
        SELECT {tickets}.id, %s, {tickets}.deadline, %s, %s, d.id
        FROM {tickets}
        JOIN {_table(NoticeDocument)} d
          ON d.town_id = {tickets}.town_id AND d.issued_on = %s AND d.kind = %s
        WHERE {where}
        ON CONFLICT (ticket_id, step, deadline) DO NOTHING
    """
    params = [step.number, step.kind, day, day, step.kind, *where_params]
    return _execute(sql, params)


def _sla_insert(*, as_of: date, breached: QuerySet) -> int:
    """INSERT … SELECT of a notice for each ticket `breached` selects (once per ticket)."""
    day = connection.ops.adapt_datefield_value(as_of)
    where, where_params = rule_where(breached)
    tickets = _table(ToiletTicket)
    sql = f"""
        INSERT INTO {_table(SlaNotice)} (ticket_id, issued_on, document_id)
        SELECT {tickets}.id, %s, d.id
        FROM {tickets}
        JOIN {_table(NoticeDocument)} d
          ON d.town_id = {tickets}.town_id AND d.issued_on = %s AND d.kind = %s
        WHERE {where}
        ON CONFLICT (ticket_id) DO NOTHING
    """
    params = [day, day, NoticeKind.SLA, *where_params]
    return _execute(sql, params)


def _recipients_add(documents: Sequence[NoticeDocument]) -> dict[str, int]:
    """Notifications for the documents' town officers (and, on SLA notices, the workers the
    tickets are dispatched to), then one outbox row per e-mail address and one for the
    webhook."""
    if not documents:
        return {"notifications": 0, "outbox": 0}
    ids = [document.pk for document in documents]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    users = _table(get_user_model())
    receivers = access.roles("notice.receive")
    officers = f"""
        SELECT m.user_id AS user_id, d.id AS document_id FROM {_table(NoticeDocument)} d
        JOIN {_table(Membership)} m ON m.town_id = d.town_id
        JOIN {users} u ON u.id = m.user_id
        WHERE m.role IN ({_in(receivers)}) AND u.is_active AND d.id IN ({_in(ids)})
    """
    workers = f"""
        SELECT t.assigned_worker_id AS user_id, s.document_id AS document_id
        FROM {_table(SlaNotice)} s
        JOIN {_table(ToiletTicket)} t ON t.id = s.ticket_id
        WHERE t.assigned_worker_id IS NOT NULL AND s.document_id IN ({_in(ids)})
    """
    notifications = _execute(
        f"""
        INSERT INTO {_table(Notification)} (user_id, document_id, created_at)
        SELECT DISTINCT who.user_id, who.document_id, %s
        FROM ({officers} UNION {workers}) who
        WHERE who.user_id IS NOT NULL
        ON CONFLICT (user_id, document_id) DO NOTHING
        """,
        [now, *receivers, *ids, *ids],
    )
    outbox = _execute(
        f"""
        INSERT INTO {_table(Outbox)}
            (document_id, channel, recipient, created_at, claimed_by, attempts, last_error)
        SELECT n.document_id, %s, u.email, %s, '', 0, ''
        FROM {_table(Notification)} n JOIN {users} u ON u.id = n.user_id
        WHERE u.email <> '' AND n.document_id IN ({_in(ids)})
        ON CONFLICT (document_id, channel, recipient) DO NOTHING
        """,
        [Outbox.Channel.EMAIL, now, *ids],
    )
    if settings.NOTICE_WEBHOOK_URL:
        rows = [Outbox(document_id=pk, channel=Outbox.Channel.WEBHOOK) for pk in ids]
        outbox += len(Outbox.objects.bulk_create(rows, ignore_conflicts=True))
    return {"notifications": notifications, "outbox": outbox}


# --- delivery ---------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:80]


def outbox_claim(*, pk: int, worker: str) -> bool:
    """True if this worker won the row: the UPDATE matches it only while nobody has claimed it."""
    claimed = Outbox.objects.filter(pk=pk, claimed_at=None, sent_at=None).update(
        claimed_at=timezone.now(), claimed_by=worker
    )
    return claimed == 1


def outbox_deliver(*, worker: str | None = None, limit: int = DELIVERY_BATCH) -> dict[str, int]:
    """Send unclaimed outbox rows, each only after winning its claim. Runs in autocommit: a claim
    must be visible to other workers at once. A failed send releases the claim for a retry
    until MAX_ATTEMPTS; a worker that dies mid-send leaves its row claimed and unsent, for an
    operator to look at, rather than risk sending it twice."""
    worker = worker or worker_name()
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    pending = Outbox.objects.filter(claimed_at=None, sent_at=None).order_by("id")
    for pk in list(pending.values_list("pk", flat=True)[:limit]):
        if not outbox_claim(pk=pk, worker=worker):
            counts["skipped"] += 1  # another worker has it
            continue
        row = Outbox.objects.select_related("document__town").get(pk=pk)
        counts["sent" if _deliver_one(row) else "failed"] += 1
    counts["stuck"] = outbox_stuck().count()
    return counts


def outbox_stuck() -> QuerySet:
    """Rows claimed long ago and never sent: a worker died mid-send, or the attempts ran out.
    Counted in every delivery run (the job log shows them to the task force) and listed in the
    admin, for an operator to check with the recipient and re-queue by clearing `claimed_at`."""
    cutoff = timezone.now() - timedelta(minutes=STUCK_AFTER_MINUTES)
    return Outbox.objects.filter(sent_at=None, claimed_at__lt=cutoff)


def _deliver_one(row: Outbox) -> bool:
    try:
        _send(row)
    except Exception as exc:  # any failure of a channel is recorded, not raised
        attempts = row.attempts + 1
        Outbox.objects.filter(pk=row.pk).update(
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            # Released for the next run, until the attempts are used up.
            claimed_at=None if attempts < MAX_ATTEMPTS else row.claimed_at,
        )
        return False
    Outbox.objects.filter(pk=row.pk).update(sent_at=timezone.now(), attempts=row.attempts + 1)
    return True


def _send(row: Outbox) -> None:
    document = row.document
    with translation.override(settings.LANGUAGE_CODE):
        title = document_title(document.kind)
        path = reverse("notice_detail", args=[document.pk])
        if row.channel == Outbox.Channel.EMAIL:
            subject = f"{title} {document.number}"
            body = _("%(town)s: %(title)s %(number)s, issued %(day)s. Open it at %(path)s") % {
                "town": document.town.name,
                "title": title,
                "number": document.number,
                "day": document.issued_on.isoformat(),
                "path": path,
            }
            send_mail(subject, body, None, [row.recipient])
            return
    url = settings.NOTICE_WEBHOOK_URL
    if not url:
        raise RuntimeError("NOTICE_WEBHOOK_URL is empty: the webhook channel is off")
    payload = {
        "number": document.number,
        "kind": document.kind,
        "title": title,
        "town": document.town.name,
        "town_code": document.town_id,
        "issued_on": document.issued_on.isoformat(),
        "path": path,
    }
    _post_json(url, payload)


def _post_json(url: str, payload: dict) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode()
    request = Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urlopen(request, timeout=10) as response:
        response.read()


# --- selectors --------------------------------------------------------------------------------


def notice_rows(document: NoticeDocument, *, user) -> QuerySet:
    """The tickets a document lists that lie in `user`'s jurisdiction now, in number order
    (NoticeRowQuerySet.visible_to); the frozen lines for other documents."""
    if document.kind == NoticeKind.PATROL:
        return document.lines
    if document.kind == NoticeKind.SLA:
        return (
            document.sla_notices.visible_to(user)
            .select_related("ticket__village", "ticket__household", "ticket__assigned_worker")
            .order_by("ticket__number")
        )
    return (
        document.overdue_notices.visible_to(user)
        .select_related("ticket__village")
        .order_by("ticket__number", "step")
    )


def notifications_of(user) -> QuerySet:
    """The user's notifications of the documents he may open now (a notification he was sent
    before his roles were taken away or moved is not listed)."""
    return _notifications(user).select_related("document__town")


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return _notifications(user).filter(read_at=None).count()


def _notifications(user) -> QuerySet:
    visible = NoticeDocument.objects.visible_to(user).values("pk")
    return Notification.objects.filter(user=user, document__in=visible)


def notifications_mark_read(*, user, document: NoticeDocument) -> int:
    return Notification.objects.filter(user=user, document=document, read_at=None).update(
        read_at=timezone.now()
    )

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
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Left
from django.db.models.lookups import In
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.counters import counters_take
from core.dates import local_midnight
from core.errors import Forbidden
from villages import access
from villages.configuration import county_configs
from villages.models import County, Membership, Town
from workflows.models import (
    JobLock,
    NoticeDocument,
    NoticeKind,
    Notification,
    Outbox,
    OverdueNotice,
    OverdueStep,
    RectificationState,
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
MAX_ATTEMPTS = 8  # with the backoff, about two hours of trying before a row shows as failed
BACKOFF_CAP_MINUTES = 60
# A claim older than the task timeout plus this is a worker the cluster killed mid-send.
CLAIM_MARGIN = timedelta(minutes=1)
# A delivery run stops claiming after this many seconds, well below the task timeout (300 s),
# so that even its last send (NOTICE_WEBHOOK_TIMEOUT) ends before the cluster kills it.
OUTBOX_RUN_BUDGET_SECONDS = 120
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
        overdue_ladders_seed()
        pending = _extension_pending(as_of)
        # Counties sharing a rung (the same step number, days and kind: most keep the default
        # ladder) are issued it together: one pass per rung, not per county and step (300
        # passes over the tickets for 100 counties took 273 s where one statement took 21 s).
        rungs: dict[tuple[int, int, str], list[str]] = {}
        for step in OverdueStep.objects.order_by("number", "county_id"):
            rungs.setdefault((step.number, step.days_past, step.kind), []).append(step.county_id)
        every = set(County.objects.values_list("code", flat=True))
        for (number, days_past, kind), counties in sorted(rungs.items()):
            # Step reached: at least `days_past` local days after the deadline, i.e. overdue
            # as of day `days_past - 1` after as_of's (days_past 1: overdue today), in a county
            # of the rung. The same queryset picks the towns here and, compiled, the rows of
            # the INSERT below.
            reached = RectificationTicket.objects.overdue(
                as_of=as_of - timedelta(days_past - 1)
            ).exclude(pending)
            if set(counties) != every:
                reached = reached.filter(_in_counties(counties))
            issued = OverdueNotice.objects.filter(
                ticket=OuterRef("pk"), step=number, deadline=OuterRef("deadline")
            )
            fresh = reached.exclude(Exists(issued))
            towns = list(fresh.order_by().values_list("town_id", flat=True).distinct())
            if not towns:
                continue
            documents += _documents_create(towns=towns, kind=kind, as_of=as_of)
            counts["notices"] += _overdue_insert(
                number=number, kind=kind, reached=reached, as_of=as_of
            )
        counts["documents"] = len(documents)
        counts.update(_recipients_add(documents))
    return counts


def overdue_ladders_seed() -> int:
    """Gives every county without an overdue ladder the default one (OverdueStep.DEFAULT_LADDER):
    a county added to the deployment is chased like the others from the job's next run. Returns
    how many steps were added."""
    bare = County.objects.exclude(code__in=OverdueStep.objects.values("county_id"))
    steps = [
        OverdueStep(county_id=code, number=number, days_past=days_past, kind=kind)
        for code in bare.values_list("code", flat=True)
        for number, days_past, kind in OverdueStep.DEFAULT_LADDER
    ]
    # A concurrent seeding (two jobs, the admin) may have added the same steps: kept as they are.
    return len(OverdueStep.objects.bulk_create(steps, ignore_conflicts=True)) if steps else 0


def _in_counties(counties: Sequence[str]) -> Q:
    """Tickets of any of `counties`, on the ticket's own town column (the raw INSERT … SELECT
    takes no join): its towns' codes begin with the county's 6 digits (villages.Town's
    town_code_in_county)."""
    return Q(In(Left("town_id", 6), sorted(code[:6] for code in counties)))


def _extension_pending(as_of: date) -> Q:
    """An extension request the ticket's county has had less than its hold (extension_hold_days,
    villages.configuration) to decide on. A condition on the ticket's own columns, which the
    job's INSERT … SELECT compiles: the county is told by the town code's first 6 digits (the
    town_code_in_county constraint), the counties grouped by their hold."""
    by_days: dict[int, list[str]] = {}
    for code, config in county_configs(County.objects.only("code", "name")).items():
        by_days.setdefault(config.extension_hold_days, []).append(code)
    held = Q(pk__in=[])
    for days, codes in by_days.items():
        since = local_midnight(as_of - timedelta(days=days - 1))
        # One hold for every county: no need to tell them apart.
        towns = _in_counties(codes) if len(by_days) > 1 else Q()
        held |= towns & Q(extension_requested_at__gte=since)
    return Q(state=RectificationState.EXTENSION_REQUESTED) & held


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
        # New documents are written with their lines; only a town's document issued earlier
        # the same day gets them added (an UPDATE of every document took 1.25 s for 1,486
        # towns on the province benchmark).
        new = _documents_create(towns=lines_by_town, kind=kind, as_of=as_of, lines=lines_by_town)
        created = {document.town_id for document in new}
        earlier = sorted(set(lines_by_town) - created)
        if earlier:
            documents = list(
                NoticeDocument.objects.filter(kind=kind, issued_on=as_of, town_id__in=earlier)
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


def _documents_create(
    *, towns: Iterable[str], kind: str, as_of: date, lines: dict[str, list] | None = None
) -> list[NoticeDocument]:
    """The documents (town, as_of, kind) that do not exist yet, numbered in one block per county
    (each county's series: 逾提〔2026〕第N号 counts its own), each with its town's `lines`."""
    existing = set(
        NoticeDocument.objects.filter(kind=kind, issued_on=as_of, town_id__in=towns).values_list(
            "town_id", flat=True
        )
    )
    missing = sorted(set(towns) - existing)
    if not missing:
        return []
    counties = dict(Town.objects.filter(code__in=missing).values_list("code", "county_id"))
    documents = []
    # Each county numbers its own documents: every county's block taken in one statement.
    by_county: dict[str, list[str]] = {}
    for town in missing:
        by_county.setdefault(counties[town], []).append(town)
    by_county = dict(sorted(by_county.items()))
    keys = [{"prefix": COUNTER_PREFIX[kind], "year": as_of.year, "county": c} for c in by_county]
    firsts = counters_take(TicketCounter, keys=keys, counts=[len(t) for t in by_county.values()])
    for (county, own), first in zip(by_county.items(), firsts, strict=True):
        documents += [
            NoticeDocument(
                number=document_number(kind=kind, year=as_of.year, value=first + i),
                kind=kind,
                town_id=town,
                county_id=county,
                issued_on=as_of,
                lines=(lines or {}).get(town, []),
            )
            for i, town in enumerate(own)
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
    # A join Django set up and trimmed (a lookup on a foreign key's own column) is never
    # emitted: only the tables still referred to count.
    if sum(1 for alias in query.alias_map if query.alias_refcount[alias]) != 1:
        raise ValueError("a condition with joins cannot be reused in the raw statements")
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    return sql, list(params)


def _overdue_insert(*, number: int, kind: str, reached: QuerySet, as_of: date) -> int:
    """INSERT … SELECT of step `number`'s notices (the tickets `reached` selects), each into its
    town's document of the day of `kind`."""
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
    params = [number, kind, day, day, kind, *where_params]
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
#
# Each attempt carries the row's idempotency key (Outbox.key): in the webhook's JSON and its
# Idempotency-Key header, in an e-mail's X-Idempotency-Key header. A gateway that answers after
# our timeout may have taken the notice, or not: the row is marked "unknown" and sent again, with
# the same key, after a backoff, so a gateway that drops keys it has seen delivers it once. A
# worker killed mid-send (a run past the task timeout) leaves its claim behind; the next run
# releases a claim older than the task timeout as "unknown", for the same reason. A failure (an
# error answer, a refused connection) is retried likewise until MAX_ATTEMPTS, then listed as
# failed on the outbox page, where the task force re-queues it.


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:80]


def outbox_due(*, now: datetime) -> QuerySet:
    """Rows to send now: unsent, unclaimed, attempts left and past their backoff."""
    return Outbox.objects.filter(
        Q(next_attempt_at=None) | Q(next_attempt_at__lte=now),
        sent_at=None,
        claimed_at=None,
        attempts__lt=MAX_ATTEMPTS,
    )


def outbox_claim(*, pk: int, worker: str) -> bool:
    """True if this worker won the row: the UPDATE matches it only while nobody has claimed it.
    The attempt is counted at the claim, so a worker killed mid-send has used one up."""
    claimed = Outbox.objects.filter(
        pk=pk, claimed_at=None, sent_at=None, attempts__lt=MAX_ATTEMPTS
    ).update(claimed_at=timezone.now(), claimed_by=worker, attempts=F("attempts") + 1)
    return claimed == 1


def outbox_deliver(
    *,
    worker: str | None = None,
    limit: int = DELIVERY_BATCH,
    budget: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, int]:
    """Send the due outbox rows, each only after winning its claim, until `limit` rows or the
    time budget (OUTBOX_RUN_BUDGET_SECONDS, well below the task timeout, so the cluster never
    kills a run mid-send) is spent; what is left waits for the next run. Runs in autocommit: a
    claim must be visible to other workers at once."""
    worker = worker or worker_name()
    budget = OUTBOX_RUN_BUDGET_SECONDS if budget is None else budget
    started = clock()
    counts = {"sent": 0, "failed": 0, "unknown": 0, "skipped": 0, "left": 0}
    counts["released"] = outbox_release_expired()
    due = list(outbox_due(now=timezone.now()).order_by("id").values_list("pk", flat=True)[:limit])
    for i, pk in enumerate(due):
        if clock() - started >= budget:
            counts["left"] = len(due) - i  # the next run's
            break
        if not outbox_claim(pk=pk, worker=worker):
            counts["skipped"] += 1  # another worker has it
            continue
        row = Outbox.objects.select_related("document__town").get(pk=pk)
        counts[_deliver_one(row)] += 1
    counts["gave_up"] = outbox_failed().count()
    return counts


def claim_expiry() -> timedelta:
    """How long a claim may last: past the task timeout the cluster has killed the worker."""
    return timedelta(seconds=settings.Q_CLUSTER["timeout"]) + CLAIM_MARGIN


def outbox_stuck() -> QuerySet:
    """Rows claimed longer than a run may last and never sent: the worker died mid-send. The
    next delivery run releases them (outbox_release_expired)."""
    cutoff = timezone.now() - claim_expiry()
    return Outbox.objects.filter(sent_at=None, claimed_at__lt=cutoff)


def outbox_release_expired() -> int:
    """Release the claims of dead workers: whether their send went out is unknown, so the row
    is due again at once, with its key. The claim already counted the attempt."""
    return outbox_stuck().update(
        claimed_at=None,
        outcome=Outbox.Outcome.UNKNOWN,
        last_error="claim expired: the worker stopped mid-send",
        next_attempt_at=timezone.now(),
    )


def outbox_failed() -> QuerySet:
    """Rows that used up their attempts: no run picks them until re-queued."""
    return Outbox.objects.filter(sent_at=None, claimed_at=None, attempts__gte=MAX_ATTEMPTS)


def outbox_backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the 1st, 2nd, 3rd … attempt, at most BACKOFF_CAP_MINUTES."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), BACKOFF_CAP_MINUTES))


def outbox_of(user) -> QuerySet:
    """The outbox rows of the documents of the counties where `user` watches the jobs (the
    task force its own county's: the rows name its towns and people; a superuser every one)."""
    condition = access.scope(user, "jobs.view").q(
        town="document__town_id", county="document__county_id"
    )
    return Outbox.objects.none() if condition is None else Outbox.objects.filter(condition)


def outbox_requeue(*, pks: Iterable[int], by=None) -> int:
    """Make unsent rows due now with a fresh set of attempts; their key stays. A row a live
    worker holds is left alone (its claim has not expired). Given `by`, only his rows
    (outbox_of): another county's are not touched."""
    cutoff = timezone.now() - claim_expiry()
    rows = outbox_of(by) if by is not None else Outbox.objects.all()
    rows = rows.filter(pk__in=list(pks), sent_at=None).filter(
        Q(claimed_at=None) | Q(claimed_at__lt=cutoff)
    )
    return rows.update(attempts=0, claimed_at=None, next_attempt_at=timezone.now())


def outbox_pending(user) -> QuerySet:
    """Every unsent row `user` may see (outbox_of), for the task force's outbox page."""
    return (
        outbox_of(user)
        .filter(sent_at=None)
        .select_related("document__town")
        .order_by("-outcome", "id")
    )


def outbox_state(row: Outbox, *, now: datetime) -> str:
    """sent, in_flight, stuck, failed (attempts used up), unknown, retrying (failed, attempts
    left) or pending."""
    if row.sent_at:
        return "sent"
    if row.claimed_at:
        return "stuck" if row.claimed_at < now - claim_expiry() else "in_flight"
    if row.attempts >= MAX_ATTEMPTS:
        return "failed"
    return {Outbox.Outcome.FAILED: "retrying", Outbox.Outcome.UNKNOWN: "unknown"}.get(
        row.outcome, "pending"
    )


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, URLError) and not isinstance(exc, HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    return isinstance(exc, TimeoutError)  # socket.timeout is TimeoutError since Python 3.10


def _deliver_one(row: Outbox) -> str:
    """Send one claimed row: "sent", or "failed" / "unknown" with the claim released and the
    next attempt put off by the backoff."""
    try:
        _send(row)
    except Exception as exc:  # any failure of a channel is recorded, not raised
        outcome = Outbox.Outcome.UNKNOWN if _is_timeout(exc) else Outbox.Outcome.FAILED
        Outbox.objects.filter(pk=row.pk).update(
            outcome=outcome,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            claimed_at=None,
            next_attempt_at=timezone.now() + outbox_backoff(row.attempts),
        )
        return str(outcome)
    Outbox.objects.filter(pk=row.pk).update(sent_at=timezone.now(), outcome="")
    return "sent"


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
            headers = {"X-Idempotency-Key": row.key}
            EmailMessage(subject, body, None, [row.recipient], headers=headers).send()
            return
    url = settings.NOTICE_WEBHOOK_URL
    if not url:
        raise RuntimeError("NOTICE_WEBHOOK_URL is empty: the webhook channel is off")
    payload = {
        "idempotency_key": row.key,
        "number": document.number,
        "kind": document.kind,
        "title": title,
        "town": document.town.name,
        "town_code": document.town_id,
        "issued_on": document.issued_on.isoformat(),
        "path": path,
    }
    _post_json(url, payload, key=row.key)


def _post_json(url: str, payload: dict, *, key: str) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    request = Request(url, data=data, headers=headers, method="POST")
    with urlopen(request, timeout=settings.NOTICE_WEBHOOK_TIMEOUT) as response:
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
    """The header's badge on every page. Most users on most pages have nothing unread: that is
    asked first, on the partial index of unread notifications, before the query of what the
    user may still open (building it cost ~10 CPU-ms of every page, most of a bare page's)."""
    if user is None or not user.is_authenticated:
        return 0
    unread = Notification.objects.filter(user=user, read_at=None)
    if not unread.exists():
        return 0
    return _notifications(user).filter(read_at=None).count()


def _notifications(user) -> QuerySet:
    visible = NoticeDocument.objects.visible_to(user).values("pk")
    return Notification.objects.filter(user=user, document__in=visible)


def notifications_mark_read(*, user, document: NoticeDocument) -> int:
    return Notification.objects.filter(user=user, document=document, read_at=None).update(
        read_at=timezone.now()
    )


def notice_acknowledge(*, user, document: NoticeDocument) -> Notification:
    """`user` says he has read a notice sent to him: the mark opening it on its page makes (kept
    from the first time). Only those it was sent to (the town's officers, the workers an SLA
    notice names) acknowledge it; whoever else may read it is refused."""
    notification = Notification.objects.filter(user=user, document=document).first()
    if notification is None:
        raise Forbidden(_("This notice was not sent to you; only those it was sent to confirm it."))
    notifications_mark_read(user=user, document=document)
    notification.refresh_from_db(fields=["read_at"])
    return notification


def notice_documents(user) -> QuerySet:
    """The notices `user` may read (NoticeDocument.visible_to), each with `sent_to_me` and
    `read_at` (his notification's, if it was sent to him)."""
    mine = Notification.objects.filter(user=user, document=OuterRef("pk"))
    return (
        NoticeDocument.objects.visible_to(user)
        .select_related("town")
        .defer("town__boundary")
        .annotate(sent_to_me=Exists(mine), read_at=Subquery(mine.values("read_at")[:1]))
    )

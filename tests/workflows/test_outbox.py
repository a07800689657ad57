"""The outbox: each notice goes out once per recipient and channel, whoever claims it."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from workflows.models import Outbox
from workflows.notices.services import (
    MAX_ATTEMPTS,
    outbox_claim,
    outbox_deliver,
    outbox_failed,
    overdue_notices_issue,
)

pytestmark = pytest.mark.django_db
WEBHOOK = "https://gateway.example.gov.cn/notice"


@pytest.fixture
def officer_with_email(hj_officer):
    hj_officer.email = "hj@example.gov.cn"
    hj_officer.save(update_fields=["email"])
    return hj_officer


@pytest.fixture
def issued(assigned, officer_with_email):
    overdue_notices_issue(as_of=assigned.deadline + timedelta(1))
    return assigned


def test_an_issued_notice_queues_one_email_per_officer_with_an_address(issued, other_officer):
    row = Outbox.objects.get()
    assert (row.channel, row.recipient, row.sent_at, row.claimed_at) == (
        "email",
        "hj@example.gov.cn",
        None,
        None,
    )


def test_a_row_is_claimed_by_one_worker_only(issued):
    pk = Outbox.objects.get().pk

    assert outbox_claim(pk=pk, worker="a") is True
    assert outbox_claim(pk=pk, worker="b") is False
    assert Outbox.objects.get().claimed_by == "a"


def test_two_deliveries_in_turn_send_each_message_once(issued):
    first = outbox_deliver(worker="a")
    second = outbox_deliver(worker="b")

    assert (first["sent"], second["sent"]) == (1, 0)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hj@example.gov.cn"]
    row = Outbox.objects.get()
    assert row.sent_at is not None
    assert (row.claimed_by, row.attempts, row.last_error) == ("a", 1, "")


def test_a_second_overdue_run_queues_nothing_new(issued):
    overdue_notices_issue(as_of=issued.deadline + timedelta(1))

    assert Outbox.objects.count() == 1


def test_the_webhook_is_off_without_a_url(settings, assigned, officer_with_email):
    settings.NOTICE_WEBHOOK_URL = ""
    overdue_notices_issue(as_of=assigned.deadline + timedelta(1))

    assert not Outbox.objects.filter(channel="webhook").exists()


def test_the_webhook_gets_each_document_once(settings, assigned, officer_with_email):
    settings.NOTICE_WEBHOOK_URL = WEBHOOK
    overdue_notices_issue(as_of=assigned.deadline + timedelta(1))

    with mock.patch("workflows.notices.services.urlopen") as urlopen:
        outbox_deliver(worker="a")
        outbox_deliver(worker="b")

    assert urlopen.call_count == 1
    request = urlopen.call_args.args[0]
    assert request.full_url == WEBHOOK
    payload = json.loads(request.data)
    key = Outbox.objects.get(channel="webhook").key
    assert payload["idempotency_key"] == key
    assert request.get_header("Idempotency-key") == key
    assert payload["town"] == "胡集镇"
    assert payload["number"].startswith("逾提〔")
    assert Outbox.objects.filter(sent_at__isnull=False).count() == 2  # webhook and e-mail


def test_a_failed_send_is_recorded_and_retried_after_its_backoff(settings, assigned, hj_officer):
    # Was: retried on the very next run. Now the row waits out its backoff first (1 minute).
    settings.NOTICE_WEBHOOK_URL = WEBHOOK
    overdue_notices_issue(as_of=assigned.deadline + timedelta(1))

    with mock.patch(
        "workflows.notices.services.urlopen", side_effect=OSError("connection refused")
    ):
        assert outbox_deliver(worker="a")["failed"] == 1
    row = Outbox.objects.get()
    assert (row.attempts, row.sent_at, row.claimed_at, row.outcome) == (1, None, None, "failed")
    assert "connection refused" in row.last_error
    assert row.next_attempt_at > timezone.now()

    with mock.patch("workflows.notices.services.urlopen") as urlopen:
        assert outbox_deliver(worker="b")["sent"] == 0  # not due yet
        Outbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert outbox_deliver(worker="b")["sent"] == 1
    assert urlopen.call_count == 1
    assert Outbox.objects.get().attempts == 2


def test_a_row_that_keeps_failing_stops_after_max_attempts(settings, assigned, hj_officer):
    # Was: 5 attempts, then left claimed for an operator. Now MAX_ATTEMPTS (8), each after its
    # backoff; the row is released and shown as failed on the outbox page.
    settings.NOTICE_WEBHOOK_URL = WEBHOOK
    overdue_notices_issue(as_of=assigned.deadline + timedelta(1))

    with mock.patch("workflows.notices.services.urlopen", side_effect=OSError("down")) as urlopen:
        for _ in range(MAX_ATTEMPTS + 2):
            counts = outbox_deliver(worker="a")
            Outbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert urlopen.call_count == MAX_ATTEMPTS
    row = Outbox.objects.get()
    assert (row.attempts, row.claimed_at) == (MAX_ATTEMPTS, None)
    assert counts["gave_up"] == 1
    assert list(outbox_failed()) == [row]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
def test_two_claimers_at_once_send_each_message_once(
    settings, huji, jishu, inspector, task_force, officer_with_email
):
    from tests.workflows.test_concurrency import together
    from tests.workflows.test_overdue import make_assigned

    settings.NOTICE_WEBHOOK_URL = WEBHOOK
    d = timezone.localdate()
    for _ in range(3):
        make_assigned(huji, inspector, task_force, deadline=d)
    overdue_notices_issue(as_of=d + timedelta(8))  # 3 documents: 3 e-mails + 3 webhook calls
    assert Outbox.objects.count() == 6

    with mock.patch("workflows.notices.services.urlopen") as urlopen:
        results = together(4, lambda i: outbox_deliver(worker=f"w{i}"))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["sent"] for r in results) == 6
    assert urlopen.call_count == 3
    assert len(mail.outbox) == 3
    assert not Outbox.objects.filter(sent_at=None).exists()


def test_a_claim_a_dead_worker_left_is_released_and_resent_with_the_same_key(issued):
    # Was: counted as stuck and never resent. Now a claim older than the task timeout is
    # released by the next run and sent again, with the key the dead worker's send carried.
    pk = Outbox.objects.get().pk
    assert outbox_claim(pk=pk, worker="died-mid-send")
    counts = outbox_deliver(worker="b")
    assert (counts["sent"], counts["released"]) == (0, 0)  # a live claim is left alone
    Outbox.objects.filter(pk=pk).update(claimed_at=timezone.now() - timedelta(minutes=7))

    counts = outbox_deliver(worker="b")

    assert (counts["released"], counts["sent"]) == (1, 1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["X-Idempotency-Key"] == Outbox.objects.get(pk=pk).key
    assert Outbox.objects.get(pk=pk).attempts == 2

"""The outbox against a real gateway on 127.0.0.1: slow (answers after our timeout), failing
(500) then recovering. Each delivery carries one idempotency key however often it is tried, so a
gateway that drops keys it has seen delivers each notice once (issue 16)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import URLError

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from tests.workflows.test_overdue import make_assigned
from workflows.models import Outbox
from workflows.notices import services as notices
from workflows.notices.services import MAX_ATTEMPTS, outbox_deliver, overdue_notices_issue

pytestmark = pytest.mark.django_db
CLIENT_TIMEOUT = 0.2  # NOTICE_WEBHOOK_TIMEOUT in these tests
SLOW = 0.5  # the slow gateway answers this long after a request came in


class Gateway:
    """A notice gateway that records every request and delivers a key's first one only."""

    def __init__(self):
        self.mode = "ok"  # ok, slow, fail
        self.requests: list[tuple[str, str, str]] = []  # (header key, payload key, number)
        self.on_request = lambda: None
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = (self.headers["Idempotency-Key"], body["idempotency_key"], body["number"])
                gateway.requests.append(key)
                gateway.on_request()
                if gateway.mode == "slow":
                    time.sleep(SLOW)
                status = 500 if gateway.mode == "fail" else 200
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notice"

    def delivered(self) -> dict[str, str]:
        """What a gateway deduplicating by key hands on: key → number, the first request's."""
        seen: dict[str, str] = {}
        for header, key, number in self.requests:
            assert header == key
            seen.setdefault(key, number)
        return seen


@pytest.fixture
def gateway(settings):
    gateway = Gateway()
    thread = threading.Thread(target=gateway.server.serve_forever, daemon=True)
    thread.start()
    settings.NOTICE_WEBHOOK_URL = gateway.url
    settings.NOTICE_WEBHOOK_TIMEOUT = CLIENT_TIMEOUT
    yield gateway
    gateway.server.shutdown()
    gateway.server.server_close()


@pytest.fixture
def documents(gateway, huji, inspector, task_force, hj_officer):
    """Three documents (the three ladder steps reached), one webhook row each."""
    d = timezone.localdate()
    make_assigned(huji, inspector, task_force, deadline=d)
    overdue_notices_issue(as_of=d + timedelta(8))
    assert Outbox.objects.filter(channel="webhook").count() == 3
    return set(Outbox.objects.values_list("document__number", flat=True))


@pytest.fixture
def clock(monkeypatch):
    """timezone.now, moved on by hand."""
    start = timezone.now()
    offset = [timedelta(0)]
    monkeypatch.setattr(timezone, "now", lambda: start + offset[0])

    def advance(**delta):
        offset[0] += timedelta(**delta)

    return advance


def test_a_slow_gateway_gets_each_notice_under_one_key(gateway, documents):
    gateway.mode = "slow"
    first = outbox_deliver(worker="a")

    assert (first["unknown"], first["sent"]) == (3, 0)
    rows = Outbox.objects.all()
    assert {(r.outcome, r.attempts, r.claimed_at) for r in rows} == {("unknown", 1, None)}
    assert all(r.next_attempt_at > timezone.now() for r in rows)  # after the backoff

    gateway.mode = "ok"
    Outbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    second = outbox_deliver(worker="b")
    third = outbox_deliver(worker="c")

    assert (second["sent"], third["sent"]) == (3, 0)
    keys = {key for _, key, _ in gateway.requests}
    assert len(gateway.requests) == 6  # each notice twice on the wire …
    assert {key: sum(k == key for _, k, _ in gateway.requests) for key in keys} == {
        key: 2 for key in keys
    }
    assert keys == {row.key for row in Outbox.objects.all()}  # … always with its row's key
    assert sorted(gateway.delivered().values()) == sorted(documents)  # delivered once each


def test_a_timeout_is_unknown_and_an_error_answer_failed():
    assert notices._is_timeout(TimeoutError("timed out"))
    assert notices._is_timeout(URLError(TimeoutError("timed out")))
    assert not notices._is_timeout(URLError(ConnectionRefusedError("refused")))
    assert not notices._is_timeout(OSError("down"))


def test_a_run_stops_claiming_when_its_budget_is_spent(gateway, documents):
    fake = [0.0]

    def on_request():
        fake[0] += 70  # every send takes 70 s on the run's clock

    gateway.on_request = on_request
    counts = outbox_deliver(worker="a", budget=120, clock=lambda: fake[0])

    # Sends start at 0 s and 70 s; at 140 s the budget is spent and the third row waits.
    assert (counts["sent"], counts["left"]) == (2, 1)
    assert Outbox.objects.filter(sent_at=None, claimed_at=None, attempts=0).count() == 1
    assert outbox_deliver(worker="b", budget=120, clock=lambda: fake[0])["sent"] == 1
    assert fake[0] == 210  # the next run, with a budget of its own, sent the third


def test_the_budget_leaves_room_for_the_last_send_before_the_task_timeout():
    last_send = notices.OUTBOX_RUN_BUDGET_SECONDS + django_settings.NOTICE_WEBHOOK_TIMEOUT
    assert last_send < django_settings.Q_CLUSTER["timeout"] / 2


def test_a_failing_gateway_that_recovers_receives_every_notice(gateway, documents, clock):
    gateway.mode = "fail"
    assert outbox_deliver(worker="a")["failed"] == 3
    clock(seconds=30)
    assert outbox_deliver(worker="a")["failed"] == 0  # 1 minute's backoff not over
    clock(seconds=31)
    assert outbox_deliver(worker="a")["failed"] == 3
    assert {r.attempts for r in Outbox.objects.all()} == {2}

    gateway.mode = "ok"
    clock(minutes=1)
    assert outbox_deliver(worker="a")["sent"] == 0  # 2 minutes' backoff now
    clock(minutes=1, seconds=1)
    assert outbox_deliver(worker="a")["sent"] == 3

    assert sorted(gateway.delivered().values()) == sorted(documents)
    assert not Outbox.objects.filter(sent_at=None).exists()


def _fail_for_good(gateway, clock):
    gateway.mode = "fail"
    for _ in range(MAX_ATTEMPTS + 1):
        outbox_deliver(worker="a")
        clock(hours=1)


def test_failed_after_max_attempts_is_listed_and_requeued_from_the_page(
    gateway, documents, clock, client, task_force
):
    _fail_for_good(gateway, clock)
    assert len(gateway.requests) == 3 * MAX_ATTEMPTS
    assert outbox_deliver(worker="a")["gave_up"] == 3

    client.force_login(task_force)
    page = client.get(reverse("outbox_list")).content.decode()
    assert page.count('data-state="failed"') == 3
    assert "HTTPError: HTTP Error 500" in page

    one = Outbox.objects.order_by("pk").first()
    response = client.post(reverse("outbox_requeue"), {"one": one.pk})
    assert response.status_code == 303
    row = Outbox.objects.get(pk=one.pk)
    assert (row.attempts, row.claimed_at) == (0, None)
    assert row.next_attempt_at <= timezone.now()
    assert row.key == one.key  # the key stays

    gateway.mode = "ok"
    assert outbox_deliver(worker="a")["sent"] == 1
    client.post(
        reverse("outbox_requeue"), {"pk": list(Outbox.objects.values_list("pk", flat=True))}
    )
    assert outbox_deliver(worker="a")["sent"] == 2
    assert sorted(gateway.delivered().values()) == sorted(documents)
    # Every request of a document, failed or not, carried the same key.
    assert len({(key, number) for _, key, number in gateway.requests}) == 3


def test_a_live_claim_is_not_requeued(documents, client, task_force):
    row = Outbox.objects.first()
    notices.outbox_claim(pk=row.pk, worker="busy")

    assert notices.outbox_requeue(pks=[row.pk]) == 0
    assert Outbox.objects.get(pk=row.pk).claimed_by == "busy"


def test_the_outbox_page_is_the_task_force_s(documents, client, hj_officer):
    client.force_login(hj_officer)

    assert client.get(reverse("outbox_list")).status_code == 403
    assert client.post(reverse("outbox_requeue"), {"one": 1}).status_code == 403


def test_the_outbox_page_takes_the_same_queries_for_more_rows(documents, client, task_force):
    client.force_login(task_force)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("outbox_list"))
    document = Outbox.objects.first().document
    for i in range(5):
        Outbox.objects.create(document=document, channel="email", recipient=f"x{i}@example.cn")
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("outbox_list")).content.decode()

    assert page.count("data-outbox=") == 8
    assert len(many) == len(few)

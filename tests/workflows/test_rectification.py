"""整改单: each transition — allowed, wrong state, condition unmet, wrong role/scope, stale copy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError, Conflict, Forbidden
from workflows.models import RectificationTicket, TicketEvent
from workflows.tickets import services

pytestmark = pytest.mark.django_db


def fresh(ticket) -> RectificationTicket:
    return RectificationTicket.objects.get(pk=ticket.pk)


def events(ticket) -> list[tuple[str, str, str]]:
    return list(
        TicketEvent.objects.filter(rectification=ticket).values_list(
            "action", "from_state", "to_state"
        )
    )


class TestCreate:
    def test_numbers_are_one_per_ticket_per_year(self, draft, huji, inspector):
        second = services.rectification_create(by=inspector, town=huji, description="坑塘漂浮物")
        year = timezone.localdate().year
        assert draft.number == f"ZG-{year}-000001"
        assert second.number == f"ZG-{year}-000002"

    def test_create_logs_the_before_photos(self, draft):
        assert draft.state == "draft"
        assert draft.before_photos.count() == 1
        (event,) = TicketEvent.objects.filter(rectification=draft)
        assert (event.action, event.to_state, event.photos.count()) == ("create", "draft", 1)

    def test_town_officer_cannot_open_a_ticket_for_another_town(self, other_officer, huji):
        with pytest.raises(Forbidden):
            services.rectification_create(by=other_officer, town=huji, description="x")
        assert RectificationTicket.objects.count() == 0

    def test_description_is_required(self, inspector, huji):
        with pytest.raises(ApplicationError):
            services.rectification_create(by=inspector, town=huji, description="  ")

    def test_village_must_be_in_the_town(self, inspector, huji, jishu_village):
        with pytest.raises(ApplicationError):
            services.rectification_create(
                by=inspector, town=huji, village=jishu_village, description="x"
            )

    def test_task_force_can_create_and_assign_at_once(self, task_force, huji, deadline):
        ticket = services.rectification_create(
            by=task_force, town=huji, description="x", deadline=deadline
        )
        assert (ticket.state, ticket.deadline) == ("assigned", deadline)
        assert [a for a, _f, _t in events(ticket)] == ["create", "assign"]


class TestAssign:
    def test_allowed(self, assigned, deadline):
        ticket = fresh(assigned)
        assert (ticket.state, ticket.deadline) == ("assigned", deadline)
        assert ticket.assigned_at is not None
        assert events(ticket)[-1] == ("assign", "draft", "assigned")

    def test_only_the_task_force(self, draft, hj_officer, deadline):
        with pytest.raises(Forbidden):
            services.rectification_assign(ticket=draft, by=hj_officer, deadline=deadline)
        assert fresh(draft).state == "draft"

    def test_deadline_not_in_the_past(self, draft, task_force):
        yesterday = timezone.localdate() - timedelta(days=1)
        with pytest.raises(ApplicationError):
            services.rectification_assign(ticket=draft, by=task_force, deadline=yesterday)

    def test_wrong_state(self, assigned, task_force, deadline):
        with pytest.raises(ApplicationError, match=assigned.number):
            services.rectification_assign(ticket=assigned, by=task_force, deadline=deadline)

    def test_stale_copy(self, draft, task_force, deadline):
        stale = fresh(draft)
        services.rectification_assign(ticket=draft, by=task_force, deadline=deadline)
        with pytest.raises(Conflict):
            services.rectification_cancel(ticket=stale, by=task_force, reason="重复")
        assert fresh(draft).state == "assigned"
        assert [a for a, _f, _t in events(draft)] == ["create", "assign"]


class TestSubmit:
    def test_allowed(self, submitted):
        ticket = fresh(submitted)
        assert ticket.state == "submitted"
        assert ticket.rectification_note == "已清理垃圾并设置警示牌"
        event = TicketEvent.objects.filter(rectification=ticket).last()
        assert (event.action, event.photos.count()) == ("submit", 1)

    def test_needs_an_after_photo(self, assigned, hj_officer):
        with pytest.raises(ApplicationError):
            services.rectification_submit(ticket=assigned, by=hj_officer, note="done", photos=[])
        assert fresh(assigned).state == "assigned"

    def test_needs_a_note(self, assigned, hj_officer, make_photo):
        with pytest.raises(ApplicationError):
            services.rectification_submit(
                ticket=assigned, by=hj_officer, note=" ", photos=[make_photo()]
            )

    def test_other_town_officer_may_not(self, assigned, other_officer, make_photo):
        with pytest.raises(Forbidden):
            services.rectification_submit(
                ticket=assigned, by=other_officer, note="x", photos=[make_photo()]
            )

    def test_inspector_may_not(self, assigned, inspector, make_photo):
        with pytest.raises(Forbidden):
            services.rectification_submit(
                ticket=assigned, by=inspector, note="x", photos=[make_photo()]
            )

    def test_wrong_state(self, draft, hj_officer, make_photo):
        with pytest.raises(ApplicationError):
            services.rectification_submit(
                ticket=draft, by=hj_officer, note="x", photos=[make_photo()]
            )

    def test_stale_copy(self, assigned, hj_officer, task_force, make_photo):
        stale = fresh(assigned)
        services.rectification_cancel(ticket=assigned, by=task_force, reason="重复立案")
        with pytest.raises(Conflict):
            services.rectification_submit(
                ticket=stale, by=hj_officer, note="已整改", photos=[make_photo()]
            )
        assert fresh(assigned).state == "cancelled"
        assert not TicketEvent.objects.filter(rectification=assigned, action="submit").exists()


class TestRejectAndClose:
    def test_reject_then_resubmit(self, submitted, task_force, hj_officer, make_photo):
        services.rectification_reject(ticket=submitted, by=task_force, reason="照片不清晰")
        assert fresh(submitted).state == "rejected"
        services.rectification_submit(
            ticket=submitted, by=hj_officer, note="补拍照片", photos=[make_photo()]
        )
        assert fresh(submitted).state == "submitted"

    def test_reject_needs_a_reason(self, submitted, task_force):
        with pytest.raises(ApplicationError):
            services.rectification_reject(ticket=submitted, by=task_force, reason="")

    def test_only_task_force_rejects_and_closes(self, submitted, hj_officer, inspector):
        for user in (hj_officer, inspector):
            with pytest.raises(Forbidden):
                services.rectification_close(ticket=submitted, by=user)
            with pytest.raises(Forbidden):
                services.rectification_reject(ticket=submitted, by=user, reason="x")
        assert fresh(submitted).state == "submitted"

    def test_close(self, submitted, task_force):
        received = []

        def on_closed(sender, ticket, **kwargs):
            received.append(ticket.number)

        services.ticket_closed.connect(on_closed)
        try:
            services.rectification_close(ticket=submitted, by=task_force, note="现场核验合格")
        finally:
            services.ticket_closed.disconnect(on_closed)
        ticket = fresh(submitted)
        assert ticket.state == "closed" and ticket.closed_at is not None
        assert received == [ticket.number]

    def test_close_wrong_state(self, assigned, task_force):
        with pytest.raises(ApplicationError):
            services.rectification_close(ticket=assigned, by=task_force)

    def test_two_closes_one_wins(self, submitted, task_force):
        first, second = fresh(submitted), fresh(submitted)
        services.rectification_close(ticket=first, by=task_force)
        with pytest.raises(Conflict):
            services.rectification_close(ticket=second, by=task_force)
        assert [a for a, _f, _t in events(submitted)].count("close") == 1

    def test_a_failing_receiver_rolls_the_close_back(self, submitted, task_force):
        def broken(sender, ticket, **kwargs):
            raise RuntimeError("site update failed")

        services.ticket_closed.connect(broken)
        try:
            with pytest.raises(RuntimeError):
                services.rectification_close(ticket=submitted, by=task_force)
        finally:
            services.ticket_closed.disconnect(broken)
        assert fresh(submitted).state == "submitted"
        assert "close" not in [a for a, _f, _t in events(submitted)]


class TestExtension:
    def test_request_and_approve_moves_the_deadline(self, assigned, hj_officer, task_force):
        later = assigned.deadline + timedelta(days=15)
        services.rectification_request_extension(
            ticket=assigned, by=hj_officer, new_deadline=later, reason="雨季施工困难"
        )
        assert fresh(assigned).state == "extension_requested"
        services.rectification_approve_extension(ticket=assigned, by=task_force)
        ticket = fresh(assigned)
        assert (ticket.state, ticket.deadline, ticket.requested_deadline) == (
            "assigned",
            later,
            None,
        )

    def test_refuse_keeps_the_deadline(self, assigned, hj_officer, task_force):
        original = assigned.deadline
        services.rectification_request_extension(
            ticket=assigned, by=hj_officer, new_deadline=original + timedelta(days=5), reason="x"
        )
        services.rectification_refuse_extension(ticket=assigned, by=task_force, reason="理由不足")
        ticket = fresh(assigned)
        assert (ticket.state, ticket.deadline) == ("assigned", original)

    def test_new_deadline_must_be_later(self, assigned, hj_officer):
        with pytest.raises(ApplicationError):
            services.rectification_request_extension(
                ticket=assigned, by=hj_officer, new_deadline=assigned.deadline, reason="x"
            )

    def test_only_the_town_requests_and_only_the_county_approves(
        self, assigned, hj_officer, other_officer, task_force
    ):
        later = assigned.deadline + timedelta(days=3)
        with pytest.raises(Forbidden):
            services.rectification_request_extension(
                ticket=assigned, by=other_officer, new_deadline=later, reason="x"
            )
        services.rectification_request_extension(
            ticket=assigned, by=hj_officer, new_deadline=later, reason="x"
        )
        with pytest.raises(Forbidden):
            services.rectification_approve_extension(ticket=assigned, by=hj_officer)

    def test_wrong_state(self, submitted, task_force):
        with pytest.raises(ApplicationError):
            services.rectification_approve_extension(ticket=submitted, by=task_force)


class TestCancel:
    def test_needs_a_reason_and_the_task_force(self, draft, task_force, hj_officer):
        with pytest.raises(ApplicationError):
            services.rectification_cancel(ticket=draft, by=task_force, reason="")
        with pytest.raises(Forbidden):
            services.rectification_cancel(ticket=draft, by=hj_officer, reason="x")
        services.rectification_cancel(ticket=draft, by=task_force, reason="重复立案")
        assert fresh(draft).state == "cancelled"

    def test_not_after_submission(self, submitted, task_force):
        with pytest.raises(ApplicationError):
            services.rectification_cancel(ticket=submitted, by=task_force, reason="x")


class TestOverdue:
    def test_overdue_is_derived_from_deadline_and_state(self, assigned, task_force):
        after = assigned.deadline + timedelta(days=1)
        assert list(RectificationTicket.objects.overdue(as_of=after)) == [assigned]
        assert list(RectificationTicket.objects.overdue(as_of=assigned.deadline)) == []
        assert fresh(assigned).is_overdue(as_of=after)

    def test_a_submitted_ticket_is_not_overdue(self, submitted):
        after = submitted.deadline + timedelta(days=30)
        assert list(RectificationTicket.objects.overdue(as_of=after)) == []


def test_the_state_field_cannot_be_set_directly(draft):
    with pytest.raises(AttributeError):
        draft.state = "closed"

"""管护工单: every transition — allowed, wrong state, condition unmet, wrong role, stale copy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.errors import ApplicationError, Conflict, Forbidden
from tests.factories import make_user, membership
from villages.models import Role
from workflows.models import TicketEvent, ToiletTicket
from workflows.tickets import services

pytestmark = pytest.mark.django_db


def fresh(ticket) -> ToiletTicket:
    return ToiletTicket.objects.get(pk=ticket.pk)


def actions(ticket) -> list[str]:
    return list(TicketEvent.objects.filter(toilet=ticket).values_list("action", flat=True))


class TestReport:
    def test_village_admin_reports_for_a_household(self, reported, household):
        assert reported.state == "reported"
        assert reported.number.startswith("GH-") and reported.number.endswith("-000001")
        assert (reported.town_id, reported.village_id) == (
            household.village.town_id,
            household.village_id,
        )
        assert reported.sla_due_at - reported.created_at == timedelta(hours=72)
        assert actions(reported) == ["report"]

    def test_admin_of_another_village_may_not(self, household, jishu_village):
        other_admin = make_user("other_admin", membership(Role.VILLAGE_ADMIN, jishu_village))
        with pytest.raises(Forbidden):
            services.toilet_report(
                by=other_admin, household=household, kind="repair", channel="village_admin"
            )
        assert ToiletTicket.objects.count() == 0

    def test_unknown_kind_refused(self, household, hj_officer):
        with pytest.raises(ApplicationError):
            services.toilet_report(by=hj_officer, household=household, kind="x", channel="phone")

    def test_unknown_channel_refused(self, household, hj_officer):
        with pytest.raises(ApplicationError):
            services.toilet_report(
                by=hj_officer, household=household, kind="pumping", channel="fax"
            )
        assert ToiletTicket.objects.count() == 0


class TestDispatch:
    def test_town_dispatches_to_a_worker(self, dispatched, huji_worker):
        ticket = fresh(dispatched)
        assert (ticket.state, ticket.assigned_worker) == ("dispatched", huji_worker)

    def test_other_town_may_not(self, reported, other_officer, huji_worker):
        with pytest.raises(Forbidden):
            services.toilet_dispatch(ticket=reported, by=other_officer, worker=huji_worker)

    def test_worker_must_serve_the_town(self, reported, hj_officer, jishu):
        outsider = make_user("jishu_worker", membership(Role.SERVICE_WORKER, jishu))
        with pytest.raises(ApplicationError):
            services.toilet_dispatch(ticket=reported, by=hj_officer, worker=outsider)
        with pytest.raises(ApplicationError):
            services.toilet_dispatch(ticket=reported, by=hj_officer, worker=hj_officer)

    def test_wrong_state(self, dispatched, hj_officer, huji_worker):
        with pytest.raises(ApplicationError):
            services.toilet_dispatch(ticket=dispatched, by=hj_officer, worker=huji_worker)


class TestWorkerSteps:
    def test_accept_start_complete(self, done):
        ticket = fresh(done)
        assert ticket.state == "done"
        assert (ticket.pumped_volume_m3, ticket.disposal_site) == (Decimal("2.50"), "县污水处理厂")
        assert actions(ticket) == ["report", "dispatch", "accept", "start", "complete"]

    def test_only_the_assigned_worker(self, dispatched, service_worker, hj_officer):
        for user in (service_worker, hj_officer):
            with pytest.raises(Forbidden):
                services.toilet_accept(ticket=dispatched, by=user)
        assert fresh(dispatched).state == "dispatched"

    def test_start_needs_acceptance_first(self, dispatched, huji_worker):
        with pytest.raises(ApplicationError):
            services.toilet_start(ticket=dispatched, by=huji_worker)

    def test_pumping_needs_volume_site_and_photo(self, in_service, huji_worker, make_photo):
        photo = [make_photo()]
        cases = [
            {"photos": photo, "disposal_site": "厂"},
            {"photos": photo, "volume_m3": Decimal("0"), "disposal_site": "厂"},
            {"photos": photo, "volume_m3": Decimal("2")},
            {"photos": [], "volume_m3": Decimal("2"), "disposal_site": "厂"},
        ]
        for kwargs in cases:
            with pytest.raises(ApplicationError):
                services.toilet_complete(ticket=in_service, by=huji_worker, **kwargs)
        assert fresh(in_service).state == "in_service"

    def test_repair_needs_parts(self, household, hj_officer, huji_worker, make_photo):
        ticket = services.toilet_report(
            by=hj_officer, household=household, kind="repair", channel="phone"
        )
        services.toilet_dispatch(ticket=ticket, by=hj_officer, worker=huji_worker)
        services.toilet_accept(ticket=ticket, by=huji_worker)
        services.toilet_start(ticket=ticket, by=huji_worker)
        with pytest.raises(ApplicationError):
            services.toilet_complete(ticket=ticket, by=huji_worker, photos=[make_photo()])
        services.toilet_complete(
            ticket=ticket, by=huji_worker, photos=[make_photo()], parts_used="冲水阀 1 个"
        )
        assert fresh(ticket).parts_used == "冲水阀 1 个"


class TestCallback:
    def test_confirm_with_satisfaction(self, done, hj_officer):
        services.toilet_confirm(ticket=done, by=hj_officer, satisfaction="satisfied")
        ticket = fresh(done)
        assert (ticket.state, ticket.satisfaction) == ("confirmed", "satisfied")

    def test_unsatisfied_is_a_reopen_not_a_confirm(self, done, hj_officer):
        with pytest.raises(ApplicationError):
            services.toilet_confirm(ticket=done, by=hj_officer, satisfaction="unsatisfied")
        services.toilet_reopen(ticket=done, by=hj_officer, note="农户反映仍有异味")
        ticket = fresh(done)
        assert (ticket.state, ticket.satisfaction) == ("returned", "unsatisfied")

    def test_reopened_ticket_is_dispatched_again(self, done, hj_officer, huji_worker):
        services.toilet_reopen(ticket=done, by=hj_officer, note="未抽净")
        services.toilet_dispatch(ticket=done, by=hj_officer, worker=huji_worker)
        assert fresh(done).state == "dispatched"

    def test_worker_cannot_confirm_his_own_job(self, done, huji_worker):
        with pytest.raises(Forbidden):
            services.toilet_confirm(ticket=done, by=huji_worker, satisfaction="satisfied")

    def test_confirm_wrong_state(self, in_service, hj_officer):
        with pytest.raises(ApplicationError):
            services.toilet_confirm(ticket=in_service, by=hj_officer, satisfaction="satisfied")


class TestReturnAndCancel:
    def test_worker_returns_for_redispatch(self, dispatched, huji_worker):
        services.toilet_return(ticket=dispatched, by=huji_worker, reason="车辆故障")
        ticket = fresh(dispatched)
        assert (ticket.state, ticket.assigned_worker) == ("returned", None)

    def test_return_needs_a_reason(self, dispatched, huji_worker):
        with pytest.raises(ApplicationError):
            services.toilet_return(ticket=dispatched, by=huji_worker, reason="")

    def test_stranger_cannot_return(self, dispatched, service_worker):
        with pytest.raises(Forbidden):
            services.toilet_return(ticket=dispatched, by=service_worker, reason="x")

    def test_cancel(self, reported, hj_officer, village_admin):
        with pytest.raises(Forbidden):
            services.toilet_cancel(ticket=reported, by=village_admin, reason="x")
        services.toilet_cancel(ticket=reported, by=hj_officer, reason="农户已自行处理")
        assert fresh(reported).state == "cancelled"

    def test_cannot_cancel_work_in_progress(self, in_service, hj_officer):
        with pytest.raises(ApplicationError):
            services.toilet_cancel(ticket=in_service, by=hj_officer, reason="x")

    def test_stale_copy(self, dispatched, huji_worker, hj_officer):
        stale = fresh(dispatched)
        services.toilet_accept(ticket=dispatched, by=huji_worker)
        with pytest.raises(Conflict):
            services.toilet_cancel(ticket=stale, by=hj_officer, reason="x")
        assert fresh(dispatched).state == "accepted"


class TestVisibility:
    def test_worker_sees_only_his_tickets(self, dispatched, reported, huji_worker, service_worker):
        assert list(ToiletTicket.objects.visible_to(huji_worker)) == [dispatched]
        assert list(ToiletTicket.objects.visible_to(service_worker)) == []

    def test_town_and_village_scope(self, reported, hj_officer, other_officer, village_admin):
        assert list(ToiletTicket.objects.visible_to(hj_officer)) == [reported]
        assert list(ToiletTicket.objects.visible_to(village_admin)) == [reported]
        assert list(ToiletTicket.objects.visible_to(other_officer)) == []

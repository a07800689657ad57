"""Excel ledgers (台账) of the ticket lists, as the offices keep them.

The columns of each ledger; streaming them into a workbook is core.xlsx's. Personal data is
masked: a ledger leaves the system and is forwarded by e-mail and WeChat, so its title row says
which list it is (the filter in words) and when it was exported.
"""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.xlsx import (
    Column,
    choice_label,
    filters_in_words,
    ledger_rows,
    ledger_write,
    local_datetime,
)
from villages.models import mask_phone
from workflows.models import (
    RectificationTicket,
    Source,
    ToiletTicket,
)
from workflows.tickets.models import rectification_is_overdue


def rectification_columns(as_of: date) -> list[Column]:
    def overdue_days(deadline, row):
        if rectification_is_overdue(row[state_at], deadline, as_of):
            return (as_of - deadline).days
        return None

    columns = [
        Column(lambda: _("Number"), "number", 16),
        Column(lambda: _("Town"), "town__name", 12),
        Column(lambda: _("Village"), "village__name", 18),
        Column(lambda: _("Site"), "site_label", 16),
        Column(lambda: _("Source"), "source_kind", 10, choice_label(Source.choices)),
        Column(lambda: _("Problem"), "description", 40),
        Column(
            lambda: _("State"),
            "state",
            12,
            choice_label(RectificationTicket._meta.get_field("state").choices),
        ),
        Column(lambda: _("Deadline"), "deadline", 12),
        Column(lambda: _("Days overdue"), "deadline", 10, overdue_days),
        Column(lambda: _("Created"), "created_at", 18, local_datetime()),
        Column(lambda: _("Assigned"), "assigned_at", 18, local_datetime()),
        Column(lambda: _("Submitted"), "submitted_at", 18, local_datetime()),
        Column(lambda: _("Closed"), "closed_at", 18, local_datetime()),
        Column(lambda: _("Rectification note"), "rectification_note", 40),
    ]
    state_at = [column.field for column in columns].index("state")
    return columns


def toilet_columns() -> list[Column]:
    return [
        Column(lambda: _("Number"), "number", 16),
        Column(lambda: _("Town"), "town__name", 12),
        Column(lambda: _("Village"), "village__name", 18),
        Column(lambda: _("Household number"), "household__number", 14),
        Column(lambda: _("Head of household"), "household__head_name", 10),
        Column(lambda: _("Phone"), "household__phone", 14, lambda v, _r: mask_phone(v or "")),
        Column(lambda: _("Kind"), "kind", 10, choice_label(ToiletTicket.Kind.choices)),
        Column(lambda: _("Channel"), "channel", 10, choice_label(ToiletTicket.Channel.choices)),
        Column(
            lambda: _("State"),
            "state",
            10,
            choice_label(ToiletTicket._meta.get_field("state").choices),
        ),
        Column(lambda: _("Reported"), "created_at", 18, local_datetime()),
        Column(lambda: _("Due (SLA)"), "sla_due_at", 18, local_datetime()),
        Column(lambda: _("Service worker"), "assigned_worker__first_name", 12),
        Column(lambda: _("Pumped volume (m³)"), "pumped_volume_m3", 10),
        Column(lambda: _("Disposal site"), "disposal_site", 16),
        Column(lambda: _("Parts used"), "parts_used", 16),
        Column(
            lambda: _("Satisfaction"),
            "satisfaction",
            10,
            choice_label(ToiletTicket.Satisfaction.choices),
        ),
        Column(lambda: _("Completed"), "completed_at", 18, local_datetime()),
    ]


def rectification_ledger(*, queryset: QuerySet, as_of: date | None = None, filters: str = ""):
    """`filters`: the list's filter in words (ledger_filters), "" for none."""
    columns = rectification_columns(as_of or timezone.localdate())
    rows = ledger_rows(queryset, columns)
    return ledger_write(
        title=_("Rectification ticket ledger"), columns=columns, rows=rows, filters=filters
    )


def toilet_ledger(*, queryset: QuerySet, filters: str = ""):
    columns = toilet_columns()
    return ledger_write(
        title=_("Toilet service ticket ledger"),
        columns=columns,
        rows=ledger_rows(queryset, columns),
        filters=filters,
    )


def ledger_filters(filterset) -> str:
    """A validated list filter in words for the ledger's title row; the sort order (?o=) is no
    filter."""
    return filters_in_words(filterset.form, skip=("o",))


def ledger_filename(kind: str) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"{kind}-{stamp}.xlsx"

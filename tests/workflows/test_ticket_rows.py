"""The ticket list's rows written in Python (workflows/templatetags/ticket_rows.py): the HTML
the list's template wrote before, byte for byte, for tickets of every shape — with and without
a village, a site, a deadline, overdue by one day or many, every state and source, text that
needs escaping, a long description — in both languages and at any hour of the day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import engines
from django.utils import translation

from workflows.models import RectificationTicket
from workflows.templatetags.ticket_rows import ticket_row

# The row as ticket_list.html had it (the loop's body), the reference.
REFERENCE = engines["django"].from_string(
    "{% load i18n %}{% for ticket in page %}"
    "\n"
    "      <tr>\n"
    '        <td class="t-number"><a class="code" href="{% url \'ticket_detail\' ticket'
    '.number %}">{{ ticket.number }}</a></td>\n'
    '        <td class="t-place">{{ ticket.town.name }}{% if ticket.village %}'
    " · {{ ticket.village.short_name }}{% endif %}{% if ticket.site_label %}"
    " · {{ ticket.site_label }}{% endif %}</td>\n"
    '        <td class="t-text"><a href="{% url \'ticket_detail\' ticket.number %}'
    '">{{ ticket.description|truncatechars:40 }}</a></td>\n'
    '        <td class="t-state"><span class="badge state-{{ ticket.state }}'
    '">{{ ticket.get_state_display }}</span></td>\n'
    '        <td class="t-deadline">{% if ticket.deadline %}'
    '<span class="muted-label">{% translate "Deadline" %}'
    '</span> {{ ticket.deadline|date:"Y-m-d" }}{% else %}—{% endif %}'
    "{% if ticket.overdue_days %}"
    ' <span class="badge overdue">{% blocktranslate count n=ticket.overdue_days %}'
    "{{ n }} day overdue{% plural %}{{ n }} days overdue{% endblocktranslate %}"
    "</span>{% endif %}</td>\n"
    '        <td class="t-source">{{ ticket.get_source_kind_display }}</td>\n'
    '        <td class="t-created">{{ ticket.created_at|date:"Y-m-d" }}</td>\n'
    "      </tr>\n"
    "{% endfor %}"
)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shapes(huji, huji_village):
    states = [value for value, _label in RectificationTicket._meta.get_field("state").choices]
    sources = [v for v, _label in RectificationTicket._meta.get_field("source_kind").choices]
    n = 0
    for state in states:
        for source in sources:
            for village, site, deadline, overdue in [
                (huji_village, "", None, 0),
                (None, '桥下 <坑塘> & "沟"', datetime(2026, 3, 1).date(), 1),
                (huji_village, "河 3", datetime(2026, 12, 31).date(), 17),
            ]:
                n += 1
                ticket = RectificationTicket(
                    number=f"ZG-2026-{n:06d}",
                    town=huji,
                    village=village,
                    site_label=site,
                    description="岸边垃圾成堆，" * (n % 4) + "<b>未清理</b> & 'x'",
                    state=state,
                    source_kind=source,
                    deadline=deadline,
                    # 23:30 in Beijing is the next day in UTC's terms: the local date is shown.
                    created_at=datetime(2026, 5, n % 28 + 1, 23, 30, tzinfo=SHANGHAI)
                    - timedelta(hours=n % 24),
                )
                ticket.overdue_days = overdue
                yield ticket


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_row_is_the_templates_row(huji, huji_village, language):
    with translation.override(language):
        rows = list(shapes(huji, huji_village))
        assert len(rows) > 30
        for ticket in rows:
            assert ticket_row(ticket) == REFERENCE.render({"page": [ticket]}).rstrip("\n"), (
                ticket.number
            )


@pytest.mark.django_db
def test_the_list_shows_its_rows(client, task_force, assigned):
    client.force_login(task_force)
    html = client.get("/tickets/", {"state": "assigned"}).content.decode()
    assert f'<a class="code" href="/tickets/{assigned.number}/">{assigned.number}</a>' in html

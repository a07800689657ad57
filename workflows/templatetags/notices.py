"""The header's unread-notifications badge (a tag, so base.html needs no context processor)."""

from __future__ import annotations

from django import template

from workflows.notices.services import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    request = context.get("request")
    return unread_count(getattr(request, "user", None))

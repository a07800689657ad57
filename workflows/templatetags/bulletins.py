"""The header's badge of bulletins a town officer's towns have not acknowledged yet."""

from __future__ import annotations

from django import template

from workflows.bulletins.services import unacknowledged_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unacknowledged_bulletins(context) -> int:
    request = context.get("request")
    return unacknowledged_count(getattr(request, "user", None))

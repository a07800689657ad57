"""`{% kept_form as kept %}`: the form a POST carried when its session had ended, for the page it
was on, once its user has logged in again (villages/people/interrupted.py)."""

from django import template

from villages.people.interrupted import kept_form_take

register = template.Library()


@register.simple_tag(takes_context=True)
def kept_form(context) -> dict | None:
    request = context.get("request")
    return kept_form_take(request) if request is not None else None

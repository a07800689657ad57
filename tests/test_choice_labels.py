"""get_FOO_display() from labels kept per field (core/choices.py): what Django's own gives, for
every value of every choice field of the models that use it, in both languages, and the language
of the moment, not of the first call."""

from __future__ import annotations

import pytest
from django.db import models
from django.utils import translation

from core.choices import ChoiceLabels
from inspections.models import Patrol, WaterSite
from workflows.models import RectificationTicket, ToiletTicket

MODELS = [RectificationTicket, ToiletTicket, WaterSite, Patrol]


def choice_fields(model):
    return [f for f in model._meta.concrete_fields if f.choices]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_same_label_as_djangos_for_every_value(model):
    assert issubclass(model, ChoiceLabels)
    fields = choice_fields(model)
    assert fields
    for language in ("en", "zh-hans", "en"):
        with translation.override(language):
            for field in fields:
                for value in [v for v, _label in field.flatchoices] + ["no-such", None, ""]:
                    obj = model(**{field.attname: value})
                    ours = getattr(obj, f"get_{field.name}_display")()
                    theirs = models.Model._get_FIELD_display(obj, field)
                    assert ours == theirs and type(ours) is type(theirs), (field, value)


def test_the_label_is_in_the_language_of_the_moment():
    ticket = RectificationTicket(state="closed")
    with translation.override("en"):
        english = ticket.get_state_display()
    with translation.override("zh-hans"):
        chinese = ticket.get_state_display()
    assert (english, chinese) == ("closed (已销号)", "已销号")


def test_choices_from_a_callable_are_read_anew():
    offered = [("a", "first")]
    field = models.CharField(choices=lambda: offered)
    field.set_attributes_from_name("state")
    ticket = RectificationTicket(state="a")
    assert ticket._get_FIELD_display(field) == "first"
    offered[:] = [("a", "changed")]
    assert ticket._get_FIELD_display(field) == "changed"

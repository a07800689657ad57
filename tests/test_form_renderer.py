"""The form renderer (core/form_renderer.py) writes selects and lists of checkboxes or radio
buttons itself: the HTML must be Django's, byte for byte, for every kind of widget and value, in
both languages — and the pages with the most options (the ticket list's filters, a county's
village list) the same as with Django's renderer."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.test import override_settings
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from core.form_renderer import FormRenderer
from villages.models import Village

DJANGO = DjangoTemplates()
OURS = FormRenderer()

CHOICES = [
    ("", "---------"),
    ("a", "A & B <c>"),
    (1, 2024),
    ("safe", mark_safe("<b>bold</b>")),
    ("quote", "say \"hi\" 'there'"),
    (
        gettext_lazy("Grouped"),
        [("g1", gettext_lazy("Closed")), ("g2", "二")],
    ),
    ("zh", "胡集镇"),
]


class Rich(forms.Select):
    def create_option(self, *args, **kwargs):
        option = super().create_option(*args, **kwargs)
        option["attrs"].update({"data-n": option["index"], "data-off": False, "data-on": True})
        return option


WIDGETS = [
    forms.Select(choices=CHOICES),
    forms.Select(choices=CHOICES, attrs={"class": "x", "disabled": True, "data-q": '"<'}),
    forms.SelectMultiple(choices=CHOICES),
    forms.NullBooleanSelect(),
    Rich(choices=CHOICES),
    forms.CheckboxSelectMultiple(choices=CHOICES),
    forms.CheckboxSelectMultiple(choices=CHOICES, attrs={"id": "id_state", "class": "ticks"}),
    forms.RadioSelect(choices=CHOICES, attrs={"id": "id_r"}),
    forms.RadioSelect(choices=[]),
    forms.Select(choices=[]),
]
VALUES = [None, "", "a", 1, "1", ["a", "g2"], ["zh", 1], True, "unknown"]


@pytest.mark.parametrize("widget", WIDGETS, ids=lambda w: type(w).__name__)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_widget_is_written_as_djangos_templates_write_it(widget, language):
    with translation.override(language):
        for value in VALUES:
            if isinstance(widget, forms.NullBooleanSelect) and isinstance(value, list):
                continue  # a list is no value of it (Django's own raises)
            for attrs in (None, {"id": "id_f", "required": True}):
                ours = widget.render("f", value, attrs=attrs, renderer=OURS)
                theirs = widget.render("f", value, attrs=attrs, renderer=DJANGO)
                assert ours == theirs, (value, attrs)


def test_a_widget_with_its_own_templates_keeps_them():
    class Own(forms.RadioSelect):
        option_template_name = "django/forms/widgets/input.html"

    widget = Own(choices=[("a", "A")])
    assert widget.render("f", "a", renderer=OURS) == widget.render("f", "a", renderer=DJANGO)


@pytest.mark.django_db
def test_model_choices_too(divisions):
    field = forms.ModelChoiceField(queryset=Village.objects.order_by("code")[:40])
    for value in (None, Village.objects.order_by("code").first().pk):
        ours = field.widget.render("v", value, renderer=OURS)
        assert ours == field.widget.render("v", value, renderer=DJANGO)
        assert ours.count("<option") == 41


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["hj_officer", "task_force"])
def test_the_ticket_list_is_the_same_page(client, request, who):
    client.force_login(request.getfixturevalue(who))
    url = "/tickets/?state=assigned&state=submitted&source_kind=&overdue=true&o=deadline"
    ours = client.get(url)
    with override_settings(FORM_RENDERER="django.forms.renderers.DjangoTemplates"):
        from django.forms.renderers import get_default_renderer

        get_default_renderer.cache_clear()
        try:
            theirs = client.get(url)
        finally:
            get_default_renderer.cache_clear()
    assert ours.status_code == theirs.status_code == 200
    assert ours.content.count(b"<option") > 10 and b'type="checkbox"' in ours.content
    strip = [b'name="csrfmiddlewaretoken" value="', b'data-csrf="']

    def tokenless(html: bytes) -> bytes:
        for marker in strip:
            parts = html.split(marker)
            html = parts[0] + b"".join(marker + p[p.index(b'"') :] for p in parts[1:])
        return html

    assert tokenless(ours.content) == tokenless(theirs.content)

"""The form renderer (settings.FORM_RENDERER): Django's own, except that a select's options and a
list of checkboxes or radio buttons are written here, in Python, instead of through Django's
templates for each option.

Django renders every option of a select through two included templates (select_option.html,
attrs.html) and every checkbox through four; a list page's filters have a few hundred options
(a town's villages, the states, the towns), and an include costs ~25 µs. Measured on the ticket
list's floor (50 constant rows, a town officer, 86 villages, in-process, 2026-12-07): 23.4 ms
without rows, of which the widgets ~13 ms. The HTML is the same, byte for byte, as Django's
templates write it: tests render every kind of widget both ways and compare.

A widget that names other templates (its own template_name or option_template_name) is rendered
by its templates, as before.
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import template_localtime

SELECT = {"django/forms/widgets/select.html"}
CHOICE_LISTS = {"django/forms/widgets/checkbox_select.html", "django/forms/widgets/radio.html"}
INPUT_OPTIONS = {
    "django/forms/widgets/checkbox_option.html",
    "django/forms/widgets/radio_option.html",
}
SELECT_OPTION = "django/forms/widgets/select_option.html"


class FormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        widget = context.get("widget") if isinstance(context, dict) else None
        if widget is not None:
            if template_name in SELECT and _options_are(widget, {SELECT_OPTION}):
                return _select(widget).strip()
            if template_name in CHOICE_LISTS and _options_are(widget, INPUT_OPTIONS):
                return _choice_list(widget).strip()
        return super().render(template_name, context, request)


def _options_are(widget: dict, names: set[str]) -> bool:
    return all(
        option.get("template_name") in names
        for _group, options, _index in widget.get("optgroups", ())
        for option in options
    )


def _select(widget: dict) -> str:
    # django/forms/widgets/select.html and select_option.html
    out = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group, options, _index in widget["optgroups"]:
        if group:
            out.append(f'\n  <optgroup label="{_text(group)}">')
        for option in options:
            out.append(
                f'\n  <option value="{_format(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"  # select_option.html's last line
            )
        if group:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return mark_safe("".join(out))


def _choice_list(widget: dict) -> str:
    # django/forms/widgets/multiple_input.html, input_option.html and input.html
    attrs = widget["attrs"]
    out = ["<div"]
    if attrs.get("id"):
        out.append(f' id="{_text(attrs["id"])}"')
    if attrs.get("class"):
        out.append(f' class="{_text(attrs["class"])}"')
    out.append(">")
    for group, options, _index in widget["optgroups"]:
        if group:
            out.append(f"\n  <div><label>{_text(group)}</label>")
        for option in options:
            out.append(f"<div>\n    {_input_option(option)}</div>")
        if group:
            out.append("\n  </div>")
    out.append("\n</div>")
    return mark_safe("".join(out))


def _input_option(option: dict) -> str:
    # checkbox_option.html (or radio_option.html) includes input_option.html, which includes
    # input.html: each file's last line break stays in the page.
    value = option["value"]
    html = f'<input type="{_text(option["type"])}" name="{_text(option["name"])}"'
    if value is not None:
        html += f' value="{_format(value)}"'
    html += f"{_attrs(option['attrs'])}>\n"
    if option.get("wrap_label"):
        label_for = option["attrs"].get("id")
        opening = f'<label for="{_text(label_for)}">' if label_for else "<label>"
        html = f"{opening}{html} {_text(option['label'])}</label>"
    return html + "\n\n"


def _attrs(attrs: dict) -> str:
    # django/forms/widgets/attrs.html
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_format(value)}"')
    return "".join(out)


def _text(value) -> str:
    """`{{ value }}`: local time and format, then escaped unless already safe."""
    value = localize(template_localtime(value))
    return conditional_escape(value if isinstance(value, str) else str(value))


def _format(value) -> str:
    """`{{ value|stringformat:'s' }}`: str(), escaped unless it was safe."""
    return conditional_escape(value) if isinstance(value, SafeData) else escape(str(value))

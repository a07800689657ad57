"""Form fields shared by every app's forms (no models)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# C0 controls but tab, line feed and carriage return, and DEL: nothing a person types, and an
# .xlsx ledger cannot hold them (one such note made every export containing it fail).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_control_characters(value: str) -> None:
    found = CONTROL_CHARACTERS.search(value or "")
    if found:
        raise ValidationError(
            _("The text contains an invisible control character (U+%(code)04X); remove it."),
            code="control_character",
            params={"code": ord(found.group())},
        )


class TextField(forms.CharField):
    """A CharField for what people type: control characters are refused with a message."""

    default_validators = [refuse_control_characters]


def error_list(form: forms.Form) -> list[str]:
    """Every error of a bound form as one line each, a field's prefixed with its label: for an
    answer that has no page to show them beside their fields (the phone's queue)."""
    lines = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = field.label if field is not None and field.label and name != "__all__" else ""
        lines.extend(f"{label}：{error}" if label else str(error) for error in errors)
    return lines

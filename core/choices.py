"""`get_FOO_display()` from each field's labels worked out once, not on every call.

Django's own builds a dict of all the field's choices on every call, hashing each label — a
lazy translation, so every label of the field is translated to show one: a ticket's state and
source on a list page of 50 rows were ~850 translations (of 26 ms for the rows, 2026-12-07). Here
the dict of a field's lazy labels is kept, and only the one shown is translated, in the language
of the request as before. A field whose choices are a callable (read anew each time) is left to
Django.
"""

from __future__ import annotations

from django.utils.choices import CallableChoiceIterator
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable

_LABELS: dict = {}  # by field: {value: label}


class ChoiceLabels:
    """A model mixin; the same results as Django's get_FOO_display()."""

    def _get_FIELD_display(self, field):
        labels = _LABELS.get(field)
        if labels is None:
            if isinstance(field.choices, CallableChoiceIterator):  # read anew each time
                return super()._get_FIELD_display(field)
            # The values alone are made hashable: make_hashable(flatchoices) hashed the labels
            # too, translating each.
            labels = _LABELS[field] = {
                make_hashable(value): label for value, label in field.flatchoices
            }
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)

"""Gapless sequential numbers (一件一号 ticket numbers, document and batch numbers) from a row.

The counter row is the caller's model (one row per key, e.g. prefix and year, with an integer
`value` field and a unique constraint on the key); this module only takes numbers from it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Model


def counter_take(model: type[Model], *, key: dict[str, Any], count: int = 1) -> int:
    """The first of `count` consecutive numbers from `model`'s row for `key` (the row is made,
    starting at 1, the first time).

    Must run inside the transaction that uses the numbers: the UPDATE locks the row until
    commit, so concurrent takers wait instead of sharing a value, and a rollback returns the
    numbers, so none goes missing."""
    counter = model._default_manager.filter(**key)
    if not counter.update(value=F("value") + count):
        try:
            with transaction.atomic():  # savepoint: a concurrent first insert may win
                model._default_manager.create(**key, value=count)
        except IntegrityError:
            counter.update(value=F("value") + count)
    return counter.values_list("value", flat=True).get() - count + 1

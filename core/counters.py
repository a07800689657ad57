"""Gapless sequential numbers (一件一号 ticket numbers, document and batch numbers) from a row.

The counter row is the caller's model (one row per key, e.g. prefix and year, with an integer
`value` field and a unique constraint on the key); this module only takes numbers from it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
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


def counters_take(
    model: type[Model], *, keys: list[dict[str, Any]], counts: list[int]
) -> list[int]:
    """counter_take for many keys at once: the first number of each key's block, in the order
    of `keys`, by one INSERT … ON CONFLICT DO UPDATE … RETURNING (PostgreSQL, SQLite ≥ 3.35)
    instead of an UPDATE and a SELECT per key (100 counties' notice series took 0.16 s).

    The keys' fields must be exactly those of one unique constraint of `model` (the conflict
    target), and the keys distinct. The rows stay locked until the caller's transaction ends,
    as with counter_take: concurrent takers wait, a rollback gives the numbers back."""
    if not keys:
        return []
    if len(keys) != len(counts):
        raise ValueError("one count per key")
    fields = sorted(keys[0])
    if any(sorted(key) != fields for key in keys):
        raise ValueError("every key names the same fields")
    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    meta = {f.name: f for f in model._meta.concrete_fields}
    columns = [ops.quote_name(meta[name].column) for name in fields]
    value = ops.quote_name(meta["value"].column)
    row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    params = []
    for key, count in zip(keys, counts, strict=True):
        params += [meta[name].get_db_prep_value(key[name], connection) for name in fields]
        params.append(count)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}, {value}) "
        f"VALUES {', '.join([row] * len(keys))} "
        f"ON CONFLICT ({', '.join(columns)}) DO UPDATE SET {value} = {table}.{value} + "
        f"excluded.{value} RETURNING {', '.join(columns)}, {value}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        taken = {tuple(row[:-1]): row[-1] for row in cursor.fetchall()}
    firsts = []
    for key, count in zip(keys, counts, strict=True):
        last = taken[tuple(meta[name].to_python(key[name]) for name in fields)]
        firsts.append(last - count + 1)
    return firsts

"""A query the ORM compiles once per process (and thread) and then runs with new values, for the
pages opened most often whose query never changes but for one value (a QR label's token).

Compiling a queryset to SQL is the ORM's dearest step for a small query: the scan page's site
with its town, its village and two version subqueries took 0.78 ms to compile, 0.11 ms to run
and 0.25 ms to turn into objects (SQLite, in-process, 2026-12-07) — on every scan. A Prepared
query compiles with a marker in place of the value, finds the marker among the parameters, and
from then on only swaps the value in: the rows become model instances, related objects and
annotations exactly as the queryset would give them (tests compare the two field by field).
What turns a row into objects is worked out once too (0.2 ms of the 0.25).

It leans on the compiler's own row handling (get_converters and apply_converters: the
database's and the fields' conversions; klass_info, select and annotation_col_map: what
ModelIterable reads), stable since Django 1.8; a change there fails those tests, not a user's
page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

MARKER = "\x1fprepared-query-marker\x1f"  # no real value is this


class Prepared:
    """`Prepared(lambda value: queryset.filter(field=value))`, then `.first(value)`: the one row
    (or the first) the queryset gives for `value`, or None."""

    def __init__(self, build: Callable[[str], QuerySet]):
        self._build = build
        self._local = threading.local()  # compiled per thread, as Django's connections are

    def first(self, value: str, *, using: str = "default") -> Model | None:
        compiled = self._compile(using)
        params = [*compiled.params[: compiled.at], value, *compiled.params[compiled.at + 1 :]]
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchmany(1)
        if not rows:
            return None
        return compiled.instance(rows[0], using)

    def _compile(self, using: str) -> _Compiled:
        compiled = getattr(self._local, using, None)
        if compiled is None:
            compiled = _Compiled(self._build(MARKER).using(using)[:1], using)
            setattr(self._local, using, compiled)
        return compiled


class _Compiled:
    """The SQL, its parameters and what turns a row into objects, worked out once: the
    converters of each column (the database's and the fields'), the model's columns and the
    populators of the related objects, as ModelIterable works them out for every query."""

    def __init__(self, queryset: QuerySet, using: str):
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        if list(params).count(MARKER) != 1:
            raise ImproperlyConfigured("A prepared query takes its value exactly once.")
        self.sql, self.params, self.at = sql, tuple(params), list(params).index(MARKER)
        select, klass_info = compiler.select, compiler.klass_info
        fields = [column[0] for column in select[: compiler.col_count]]
        if getattr(compiler, "has_composite_fields", lambda _f: False)(fields):
            raise ImproperlyConfigured("A prepared query reads no composite primary key.")
        self.compiler, self.converters = compiler, compiler.get_converters(fields)
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.model, self.start, self.end = klass_info["model"], start, end
        self.names = [column[0].target.attname for column in select[start:end]]
        self.populators = get_related_populators(klass_info, select, using)
        self.annotations = list(compiler.annotation_col_map.items())

    def instance(self, row, using: str) -> Model:
        if self.converters:
            row = next(self.compiler.apply_converters([row], self.converters))
        obj = self.model.from_db(using, self.names, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, obj)
        for name, position in self.annotations:
            setattr(obj, name, row[position])
        return obj

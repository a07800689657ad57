"""A query the ORM compiles once per process and then runs with new values, for the pages opened
most often whose query never changes but for one value (a QR label's token).

Compiling a queryset to SQL is the ORM's dearest step for a small query: the scan page's site
with its town, its village and two version subqueries took 0.78 ms to compile, 0.11 ms to run
and 0.25 ms to turn into objects (SQLite, in-process, 2026-12-07) — on every scan. A Prepared
query compiles with a marker in place of the value, finds the marker among the parameters, and
from then on only swaps the value in: the rows become model instances, related objects and
annotations exactly as the queryset would give them (tests compare the two field by field).

It leans on the compiler's own row handling (results_iter: the database's converters;
klass_info, select and annotation_col_map: what ModelIterable reads), stable since Django 1.8;
a change there fails those tests, not a user's page.
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
        self._compiled: dict[str, tuple] = {}  # by database alias
        self._lock = threading.Lock()

    def first(self, value: str, *, using: str = "default") -> Model | None:
        compiler, sql, params, at = self._compile(using)
        params = [*params[:at], value, *params[at + 1 :]]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchmany(1)
        if not rows:
            return None
        row = next(iter(compiler.results_iter([rows])))
        return self._instance(compiler, row, using)

    def _compile(self, using: str) -> tuple:
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                queryset = self._build(MARKER).using(using)[:1]
                compiler = queryset.query.get_compiler(using=using)
                sql, params = compiler.as_sql()
                if list(params).count(MARKER) != 1:
                    raise ImproperlyConfigured("A prepared query takes its value exactly once.")
                compiled = (compiler, sql, tuple(params), list(params).index(MARKER))
                self._compiled[using] = compiled
        return compiled

    @staticmethod
    def _instance(compiler, row, using: str) -> Model:
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in select[start:end]]
        obj = klass_info["model"].from_db(using, names, row[start:end])
        for populator in get_related_populators(klass_info, select, using):
            populator.populate(row, obj)
        for name, position in compiler.annotation_col_map.items():
            setattr(obj, name, row[position])
        return obj

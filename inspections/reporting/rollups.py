"""The triggers that keep the rollup tables (inspections/reporting/models.py) exact, and their
full rebuild from the ticket tables.

Why triggers: every way a ticket row changes — the services' save(), bulk_create, a queryset's
update() or delete(), a data migration, SQL typed by hand — goes through the database, so the
counts stay exact whatever wrote the row, in the same transaction as the write.

One description of each rollup (`Rollup`: its table, its key columns as SQL expressions over a
ticket row, the condition for a ticket to count) is turned into three kinds of SQL, so they cannot
disagree:
- SQLite: row triggers (SQLite has no other kind) that add 1 under the new row's key and take 1
  from the old row's;
- PostgreSQL: statement triggers over the transition tables (REFERENCING NEW/OLD TABLE): one
  grouped upsert per statement, so a bulk write of a million rows costs a GROUP BY, not a
  million trigger calls; the deltas are applied in key order, so two statements lock the same
  rollup rows in the same order. The price of exact counts in the same transaction: two
  transactions writing tickets of the same town, month and state wait for each other's commit
  on their shared counter row (services' transactions are short; a county writes a few
  hundred tickets a day);
- the rebuild: DELETE, then INSERT … SELECT … GROUP BY over the tickets.
django-pgtrigger was not used: it covers PostgreSQL only, and the SQLite half would still be
hand-written; one generator for both keeps them the same.

Time zone: months are local (settings.TIME_ZONE, Asia/Shanghai), as core.dates counts them. On
PostgreSQL the trigger converts with the zone's name (the same tz database Python's zoneinfo
reads); SQLite knows only fixed offsets, so there it is the zone's offset, which is refused for a
zone with daylight saving time (Asia/Shanghai has had none since 1991).

Changing a rollup's SQL needs a migration that calls install() and rebuild() again (both may be
run any number of times).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction

from core.triggers import installed_triggers
from workflows.models import RECTIFICATION_RUNNING_STATES, RectificationState

RECT_TABLE = "workflows_rectificationticket"
TOILET_TABLE = "workflows_toiletticket"
CLOSED = str(RectificationState.CLOSED)


# --- SQL expressions, per database -------------------------------------------------------------


class Dialect:
    """The few expressions that differ between SQLite and PostgreSQL; `r` is a row alias."""

    vendor: str

    def local_month(self, column: str) -> str:
        raise NotImplementedError

    def local_date(self, column: str) -> str:
        """The local (TIME_ZONE) day of a timestamp, comparable with a DateField column."""
        raise NotImplementedError

    def whole_units(self, start: str, end: str, seconds: int) -> str:
        """The time from start to end in whole units of `seconds`, rounded down (floor, also
        below zero): a day bucket is then exactly its 24 hour buckets, an hour its 60 minutes,
        and a ticket of m whole minutes took between m and m + 1 minutes."""
        raise NotImplementedError


class SQLiteDialect(Dialect):
    vendor = "sqlite"

    def local_month(self, column: str) -> str:
        # Django stores an aware datetime as UTC text ("2025-05-31 16:30:00"): shifted to local
        # time, then to the first of its month ("2025-06-01", a DateField's text).
        return f"date({column}, '{sqlite_offset()}', 'start of month')"

    def local_date(self, column: str) -> str:
        return f"date({column}, '{sqlite_offset()}')"

    def whole_units(self, start: str, end: str, seconds: int) -> str:
        # julianday() resolves milliseconds: the difference, rounded to whole milliseconds (an
        # exact integer, free of the float's noise), divided by integer floor division.
        ms = f"CAST(round((julianday({end}) - julianday({start})) * 86400000) AS INTEGER)"
        unit = seconds * 1000
        return f"(CASE WHEN {ms} >= 0 THEN {ms} / {unit} ELSE -((-{ms} + {unit - 1}) / {unit}) END)"


class PostgresDialect(Dialect):
    vendor = "postgresql"

    def local_month(self, column: str) -> str:
        zone = settings.TIME_ZONE.replace("'", "")
        return f"CAST(date_trunc('month', {column} AT TIME ZONE '{zone}') AS date)"

    def local_date(self, column: str) -> str:
        zone = settings.TIME_ZONE.replace("'", "")
        return f"CAST({column} AT TIME ZONE '{zone}' AS date)"

    def whole_units(self, start: str, end: str, seconds: int) -> str:
        # EXTRACT(EPOCH …) is numeric (exact microseconds), and so is its floor.
        return f"CAST(floor(EXTRACT(EPOCH FROM ({end} - {start})) / {seconds}) AS integer)"


def sqlite_offset() -> str:
    """settings.TIME_ZONE as a SQLite date modifier ("+480 minutes"); a zone with daylight saving
    time has no fixed offset and is refused."""
    zone = ZoneInfo(settings.TIME_ZONE)
    winter, summer = (datetime(2025, m, 1, tzinfo=zone).utcoffset() for m in (1, 7))
    if winter != summer:
        raise ImproperlyConfigured(
            f"The rollup triggers on SQLite need a time zone without daylight saving time, "
            f"not {settings.TIME_ZONE}."
        )
    minutes = int(winter.total_seconds() // 60)
    return f"{minutes:+d} minutes"


def dialect(vendor: str) -> Dialect:
    if vendor == "sqlite":
        return SQLiteDialect()
    if vendor == "postgresql":
        return PostgresDialect()
    raise ImproperlyConfigured(f"No rollup triggers for the {vendor} database.")


# --- the rollups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    """A count (column n) of the rows of `source` per key. `keys`: (column, SQL over the row
    alias {r}); `where`: the SQL condition for a row to count, over {r}."""

    table: str
    source: str
    keys: tuple[tuple[str, str], ...]
    where: str = "TRUE"

    @property
    def columns(self) -> list[str]:
        return [column for column, _expr in self.keys]

    def exprs(self, r: str) -> list[str]:
        return [expr.format(r=r) for _column, expr in self.keys]

    def condition(self, r: str) -> str:
        return self.where.format(r=r)


def rollups(d: Dialect) -> list[Rollup]:
    """Every rollup, in the order the triggers write them (the same on every change)."""
    closed = f"{{r}}.state = '{CLOSED}' AND {{r}}.closed_at IS NOT NULL"
    running = ", ".join(f"'{state}'" for state in RECTIFICATION_RUNNING_STATES)
    town, closed_month = ("town_id", "{r}.town_id"), ("month", d.local_month("{r}.closed_at"))
    whole_days, whole_hours, whole_minutes = (
        (column, d.whole_units("{r}.created_at", "{r}.closed_at", seconds))
        for column, seconds in (("days", 86400), ("hours", 3600), ("minutes", 60))
    )
    closed_late = (
        f"({{r}}.deadline IS NOT NULL AND {d.local_date('{r}.closed_at')} > {{r}}.deadline)"
    )
    return [
        Rollup(
            "rollup_rect_month",
            RECT_TABLE,
            (
                ("town_id", "{r}.town_id"),
                ("month", d.local_month("{r}.created_at")),
                ("state", "{r}.state"),
                ("source_kind", "{r}.source_kind"),
            ),
        ),
        Rollup("rollup_closed_days", RECT_TABLE, (town, closed_month, whole_days), closed),
        Rollup(
            "rollup_closed_hours",
            RECT_TABLE,
            (town, whole_days, whole_hours, closed_month),
            closed,
        ),
        Rollup(
            "rollup_closed_minutes",
            RECT_TABLE,
            (town, whole_hours, whole_minutes, closed_month),
            closed,
        ),
        Rollup(
            "rollup_closed_late",
            RECT_TABLE,
            (town, closed_month, ("late", closed_late)),
            closed,
        ),
        Rollup(
            "rollup_running_deadline",
            RECT_TABLE,
            (("town_id", "{r}.town_id"), ("deadline", "{r}.deadline")),
            f"{{r}}.state IN ({running}) AND {{r}}.deadline IS NOT NULL",
        ),
        Rollup(
            "rollup_toilet",
            TOILET_TABLE,
            (("town_id", "{r}.town_id"), ("state", "{r}.state"), ("kind", "{r}.kind")),
        ),
    ]


# The ticket columns the rollups read: an UPDATE changing none of them moves no count.
WATCHED = {
    RECT_TABLE: ("town_id", "created_at", "state", "source_kind", "closed_at", "deadline"),
    TOILET_TABLE: ("town_id", "state", "kind"),
}


# --- SQLite: row triggers ----------------------------------------------------------------------


def _sqlite_add(rollup: Rollup, r: str) -> str:
    columns = ", ".join(rollup.columns)
    exprs = ", ".join(rollup.exprs(r))
    return (
        f"INSERT INTO {rollup.table} ({columns}, n) SELECT {exprs}, 1 "
        f"WHERE {rollup.condition(r)} ON CONFLICT ({columns}) DO UPDATE SET n = n + 1;"
    )


def _sqlite_remove(rollup: Rollup, r: str) -> str:
    match = " AND ".join(
        f"{column} = {expr}" for column, expr in zip(rollup.columns, rollup.exprs(r), strict=True)
    )
    return (
        f"UPDATE {rollup.table} SET n = n - 1 WHERE {match} AND {rollup.condition(r)}; "
        f"DELETE FROM {rollup.table} WHERE n = 0;"
    )


def sqlite_triggers(source: str) -> list[str]:
    d = SQLiteDialect()
    mine = [rollup for rollup in rollups(d) if rollup.source == source]
    add = " ".join(_sqlite_add(rollup, "NEW") for rollup in mine)
    remove = " ".join(_sqlite_remove(rollup, "OLD") for rollup in mine)
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED[source])
    name = f"rollup_{source}"
    return [
        f"DROP TRIGGER IF EXISTS {name}_insert",
        f"DROP TRIGGER IF EXISTS {name}_update",
        f"DROP TRIGGER IF EXISTS {name}_delete",
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {source} BEGIN {add} END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE ON {source} WHEN {changed} "
        f"BEGIN {remove} {add} END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {source} BEGIN {remove} END",
    ]


# --- PostgreSQL: statement triggers over transition tables -------------------------------------


def _pg_apply(rollup: Rollup, *, new: bool, old: bool) -> str:
    columns = ", ".join(rollup.columns)
    sources = []
    if new:
        sources.append(
            f"SELECT {', '.join(rollup.exprs('r'))}, 1 AS d FROM new_rows r "
            f"WHERE {rollup.condition('r')}"
        )
    if old:
        sources.append(
            f"SELECT {', '.join(rollup.exprs('r'))}, -1 AS d FROM old_rows r "
            f"WHERE {rollup.condition('r')}"
        )
    keys = ", ".join(f"k.{c}" for c in rollup.columns)
    aliased = ", ".join(rollup.columns)
    return (
        f"INSERT INTO {rollup.table} AS t ({columns}, n) "
        f"SELECT {keys}, SUM(k.d) FROM ({' UNION ALL '.join(sources)}) AS k ({aliased}, d) "
        f"GROUP BY {keys} HAVING SUM(k.d) <> 0 ORDER BY {keys} "
        f"ON CONFLICT ({columns}) DO UPDATE SET n = t.n + EXCLUDED.n; "
        f"DELETE FROM {rollup.table} WHERE n = 0;"
    )


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $rollup$ "
        f"BEGIN {body} RETURN NULL; END $rollup$"
    )


def postgres_triggers(source: str) -> list[str]:
    d = PostgresDialect()
    mine = [rollup for rollup in rollups(d) if rollup.source == source]
    name = f"rollup_{source}"
    emptied = " ".join(f"DELETE FROM {rollup.table};" for rollup in mine)
    statements = []
    events = (
        ("insert", "INSERT", "REFERENCING NEW TABLE AS new_rows", True, False),
        ("update", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows", True, True),
        ("delete", "DELETE", "REFERENCING OLD TABLE AS old_rows", False, True),
    )
    for suffix, event, referencing, new, old in events:
        body = " ".join(_pg_apply(rollup, new=new, old=old) for rollup in mine)
        statements += [
            _pg_function(f"{name}_{suffix}", body),
            f"DROP TRIGGER IF EXISTS {name}_{suffix} ON {source}",
            f"CREATE TRIGGER {name}_{suffix} AFTER {event} ON {source} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_{suffix}()",
        ]
    # TRUNCATE fires no row or DELETE trigger: the counts of an emptied table go with it.
    statements += [
        _pg_function(f"{name}_truncate", emptied),
        f"DROP TRIGGER IF EXISTS {name}_truncate ON {source}",
        f"CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {source} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_truncate()",
    ]
    return statements


def trigger_sql(vendor: str) -> list[str]:
    make = {"sqlite": sqlite_triggers, "postgresql": postgres_triggers}[dialect(vendor).vendor]
    return [statement for source in (RECT_TABLE, TOILET_TABLE) for statement in make(source)]


def drop_sql(vendor: str) -> list[str]:
    statements = []
    for source in (RECT_TABLE, TOILET_TABLE):
        name = f"rollup_{source}"
        suffixes = ("insert", "update", "delete")
        if vendor == "postgresql":
            for suffix in (*suffixes, "truncate"):
                statements += [
                    f"DROP TRIGGER IF EXISTS {name}_{suffix} ON {source}",
                    f"DROP FUNCTION IF EXISTS {name}_{suffix}()",
                ]
        else:
            statements += [f"DROP TRIGGER IF EXISTS {name}_{suffix}" for suffix in suffixes]
    return statements


# --- the rebuild -------------------------------------------------------------------------------


def rebuild_sql(vendor: str) -> list[str]:
    """Every rollup emptied and counted again from the tickets."""
    statements = []
    for rollup in rollups(dialect(vendor)):
        columns = ", ".join(rollup.columns)
        exprs = ", ".join(rollup.exprs("r"))
        source = f"FROM {rollup.source} r WHERE {rollup.condition('r')}"
        groups = ", ".join(str(i) for i in range(1, len(rollup.keys) + 1))
        statements.append(f"DELETE FROM {rollup.table}")
        statements.append(
            f"INSERT INTO {rollup.table} ({columns}, n) SELECT {exprs}, COUNT(*) {source} "
            f"GROUP BY {groups}"
        )
    return statements


def install(using: str = "default") -> None:
    """Create (or replace) the triggers."""
    connection = connections[using]
    with connection.cursor() as cursor:
        for statement in trigger_sql(connection.vendor):
            cursor.execute(statement)


def uninstall(using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        for statement in drop_sql(connection.vendor):
            cursor.execute(statement)


def rebuild(using: str = "default") -> None:
    """Recount every rollup from the tickets, in one transaction. On PostgreSQL the ticket
    tables are locked against writes meanwhile (reads go on), so no ticket changes between the
    count and its commit: a write waiting for the lock then moves counts that include it."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {RECT_TABLE}, {TOILET_TABLE} IN SHARE MODE")
        for statement in rebuild_sql(connection.vendor):
            cursor.execute(statement)


def trigger_names(vendor: str) -> set[str]:
    suffixes = ("insert", "update", "delete") + (("truncate",) if vendor == "postgresql" else ())
    return {f"rollup_{s}_{x}" for s in (RECT_TABLE, TOILET_TABLE) for x in suffixes}


def ensure_installed(using: str = "default") -> bool:
    """Install the triggers and recount, if any trigger is missing; True if it was.

    Run after every `migrate` (post_migrate): on SQLite, a later migration that alters a ticket
    table rebuilds it as a new table, and a table's triggers go with the old one. The counts
    may then have missed writes, so they are rebuilt too."""
    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return False
    if trigger_names(connection.vendor) <= installed_triggers(using):
        return False
    install(using)
    rebuild(using)
    return True

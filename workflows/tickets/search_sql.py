"""The SQL of the tickets' search index (workflows/tickets/search.py): the triggers that keep
TicketSearch rows, the FTS5 table over them (SQLite), the bigram function, tsvector column and GIN
index (PostgreSQL); installed by migration 0012_ticket_search and again after any `migrate` that
dropped a trigger (SQLite rebuilds a table to alter it, and its triggers go with the old one).
Changing this SQL needs a migration that calls `install` and `rebuild` again."""

from __future__ import annotations

from django.db import connections

from core.triggers import installed_triggers
from workflows.tickets.search import register_sqlite_function

TICKET = "workflows_rectificationticket"
SEARCH = "workflows_ticketsearch"
FTS = "workflows_ticketsearch_fts"


def _name_of(table: str, code: str) -> str:
    return f"(SELECT name FROM {table} WHERE code = {code})"


def document(row: str) -> str:
    """The searchable text of the ticket `row` (an alias or NEW), as bigrams."""
    return (
        f"renju_bigrams({row}.number || ' ' || {row}.description || ' ' || {row}.site_label"
        f" || ' ' || coalesce({_name_of('villages_village', f'{row}.village_id')}, '')"
        f" || ' ' || coalesce({_name_of('villages_town', f'{row}.town_id')}, ''))"
    )


WRITTEN = "number, description, site_label, village_id, town_id"
# A row's text again from its ticket (a village or town renamed).
RECOMPUTED = f"(SELECT {document('t')} FROM {TICKET} t WHERE t.id = {SEARCH}.ticket_id)"

# FTS5 over an external content table: the index follows its rows.
SQLITE_FTS_SYNC = [
    f"""CREATE TRIGGER {SEARCH}_ai AFTER INSERT ON {SEARCH} BEGIN
        INSERT INTO {FTS}(rowid, bigrams) VALUES (new.ticket_id, new.bigrams);
    END""",
    f"""CREATE TRIGGER {SEARCH}_ad AFTER DELETE ON {SEARCH} BEGIN
        INSERT INTO {FTS}({FTS}, rowid, bigrams) VALUES ('delete', old.ticket_id, old.bigrams);
    END""",
    f"""CREATE TRIGGER {SEARCH}_au AFTER UPDATE ON {SEARCH} BEGIN
        INSERT INTO {FTS}({FTS}, rowid, bigrams) VALUES ('delete', old.ticket_id, old.bigrams);
        INSERT INTO {FTS}(rowid, bigrams) VALUES (new.ticket_id, new.bigrams);
    END""",
]
SQLITE_FTS_SYNC_REVERSE = [f"DROP TRIGGER IF EXISTS {SEARCH}_{op}" for op in ("ai", "ad", "au")]

SQLITE = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5"
    f"(bigrams, content='{SEARCH}', content_rowid='ticket_id')",
    *SQLITE_FTS_SYNC,
    # The rows follow the tickets (delete first: never a REPLACE, whose delete fires no trigger).
    f"""CREATE TRIGGER {TICKET}_search_ai AFTER INSERT ON {TICKET} BEGIN
        DELETE FROM {SEARCH} WHERE ticket_id = new.id;
        INSERT INTO {SEARCH}(ticket_id, bigrams) VALUES (new.id, {document("new")});
    END""",
    f"""CREATE TRIGGER {TICKET}_search_au AFTER UPDATE OF {WRITTEN} ON {TICKET} BEGIN
        UPDATE {SEARCH} SET bigrams = {document("new")} WHERE ticket_id = new.id;
    END""",
    f"""CREATE TRIGGER {TICKET}_search_ad AFTER DELETE ON {TICKET} BEGIN
        DELETE FROM {SEARCH} WHERE ticket_id = old.id;
    END""",
    # A village or town renamed: its tickets' texts.
    f"""CREATE TRIGGER villages_village_search_au AFTER UPDATE OF name ON villages_village
        WHEN old.name IS NOT new.name BEGIN
        UPDATE {SEARCH} SET bigrams = {RECOMPUTED}
        WHERE ticket_id IN (SELECT id FROM {TICKET} WHERE village_id = new.code);
    END""",
    f"""CREATE TRIGGER villages_town_search_au AFTER UPDATE OF name ON villages_town
        WHEN old.name IS NOT new.name BEGIN
        UPDATE {SEARCH} SET bigrams = {RECOMPUTED}
        WHERE ticket_id IN (SELECT id FROM {TICKET} WHERE town_id = new.code);
    END""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS villages_town_search_au",
    "DROP TRIGGER IF EXISTS villages_village_search_au",
    f"DROP TRIGGER IF EXISTS {TICKET}_search_ad",
    f"DROP TRIGGER IF EXISTS {TICKET}_search_au",
    f"DROP TRIGGER IF EXISTS {TICKET}_search_ai",
    *SQLITE_FTS_SYNC_REVERSE,
    f"DROP TABLE IF EXISTS {FTS}",
]

POSTGRESQL = [
    # The same tokens as search.grams: per run of [a-z0-9] and CJK (after NFKC, lower case), its
    # bigrams then its last character (tests/workflows/test_ticket_search.py checks they agree).
    r"""CREATE OR REPLACE FUNCTION renju_bigrams(t text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(string_agg(
                 CASE WHEN g.pos < length(r.run) THEN substr(r.run, g.pos, 2)
                      ELSE substr(r.run, g.pos, 1) END,
                 ' ' ORDER BY r.n, g.pos), '')
        FROM regexp_matches(lower(normalize(coalesce(t, ''), NFKC)),
                            '[a-z0-9\u3400-\u9fff]+', 'g') WITH ORDINALITY AS m(parts, n)
        CROSS JOIN LATERAL (SELECT m.parts[1] AS run, m.n) AS r
        CROSS JOIN LATERAL generate_series(1, length(r.run)) AS g(pos)
    $$""",
    f"""ALTER TABLE {SEARCH} ADD COLUMN IF NOT EXISTS doc tsvector
        GENERATED ALWAYS AS (to_tsvector('simple', bigrams)) STORED""",
    f"CREATE INDEX IF NOT EXISTS {SEARCH}_doc ON {SEARCH} USING gin (doc)",
    f"""CREATE OR REPLACE FUNCTION renju_ticket_search_write() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM {SEARCH} WHERE ticket_id = OLD.id;
        ELSE
            INSERT INTO {SEARCH}(ticket_id, bigrams) VALUES (NEW.id, {document("NEW")})
            ON CONFLICT (ticket_id) DO UPDATE SET bigrams = EXCLUDED.bigrams;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER {TICKET}_search AFTER INSERT OR DELETE OR UPDATE OF {WRITTEN}
        ON {TICKET} FOR EACH ROW EXECUTE FUNCTION renju_ticket_search_write()""",
    # A village or town renamed: its tickets' texts (TG_ARGV[0]: the ticket's column).
    f"""CREATE OR REPLACE FUNCTION renju_place_search_write() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.name IS DISTINCT FROM NEW.name THEN
            UPDATE {SEARCH} s SET bigrams = {document("t")}
            FROM {TICKET} t
            WHERE s.ticket_id = t.id
              AND (CASE TG_ARGV[0] WHEN 'village' THEN t.village_id ELSE t.town_id END) = NEW.code;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER villages_village_search AFTER UPDATE OF name ON villages_village
        FOR EACH ROW EXECUTE FUNCTION renju_place_search_write('village')""",
    """CREATE TRIGGER villages_town_search AFTER UPDATE OF name ON villages_town
        FOR EACH ROW EXECUTE FUNCTION renju_place_search_write('town')""",
]

POSTGRESQL_TRIGGERS_REVERSE = [
    "DROP TRIGGER IF EXISTS villages_town_search ON villages_town",
    "DROP TRIGGER IF EXISTS villages_village_search ON villages_village",
    f"DROP TRIGGER IF EXISTS {TICKET}_search ON {TICKET}",
]

POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS villages_town_search ON villages_town",
    "DROP TRIGGER IF EXISTS villages_village_search ON villages_village",
    "DROP FUNCTION IF EXISTS renju_place_search_write()",
    f"DROP TRIGGER IF EXISTS {TICKET}_search ON {TICKET}",
    "DROP FUNCTION IF EXISTS renju_ticket_search_write()",
    f"DROP INDEX IF EXISTS {SEARCH}_doc",
    f"ALTER TABLE {SEARCH} DROP COLUMN IF EXISTS doc",
    "DROP FUNCTION IF EXISTS renju_bigrams(text)",
]

FILL = f"INSERT INTO {SEARCH}(ticket_id, bigrams) SELECT t.id, {document('t')} FROM {TICKET} t"


def trigger_names(vendor: str) -> set[str]:
    statements = SQLITE if vendor == "sqlite" else POSTGRESQL
    names = set()
    for statement in statements:
        words = statement.split()
        if words[:2] == ["CREATE", "TRIGGER"]:
            names.add(words[2])
    return names


def _run(using: str, statements: list[str]) -> None:
    connection = connections[using]
    if connection.vendor == "sqlite":
        register_sqlite_function(None, connection)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _has_doc_column(using: str) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = %s AND column_name = 'doc'",
            [SEARCH],
        )
        return cursor.fetchone() is not None


def install(using: str = "default") -> None:
    vendor = connections[using].vendor
    if vendor == "sqlite":
        _run(using, SQLITE_REVERSE + SQLITE)
    elif vendor == "postgresql":
        # The function, column and index are replaced in place (an ALTER TABLE is refused in a
        # transaction with pending trigger events); the triggers are dropped and made again.
        statements = POSTGRESQL
        if _has_doc_column(using):
            schema = ("ALTER TABLE", "CREATE INDEX")  # made once, by the migration
            statements = [sql for sql in POSTGRESQL if not sql.startswith(schema)]
        _run(using, POSTGRESQL_TRIGGERS_REVERSE + statements)


def uninstall(using: str = "default") -> None:
    vendor = connections[using].vendor
    if vendor == "sqlite":
        _run(using, SQLITE_REVERSE)
    elif vendor == "postgresql":
        _run(using, POSTGRESQL_REVERSE)


def rebuild(using: str = "default") -> None:
    """Every ticket's row again, from the tickets. On SQLite the FTS5 index is then rebuilt from
    the rows as a whole, with its triggers off meanwhile: their 'delete' commands must only ever
    name what the index holds (FTS5 trusts them), which after a reinstall it does not."""
    vendor = connections[using].vendor
    refill = [f"DELETE FROM {SEARCH}", FILL]
    if vendor == "sqlite":
        rebuilt = [f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')"]
        _run(using, SQLITE_FTS_SYNC_REVERSE + refill + rebuilt + SQLITE_FTS_SYNC)
    elif vendor == "postgresql":
        _run(using, refill)


def ensure_installed(using: str = "default") -> bool:
    """Install and refill, if a trigger is missing; True if one was (post_migrate)."""
    vendor = connections[using].vendor
    if vendor not in ("sqlite", "postgresql"):
        return False
    if trigger_names(vendor) <= installed_triggers(using):
        return False
    install(using)
    rebuild(using)
    return True

"""Text search over rectification tickets, on a bigram index (issue: search of any term took
1.3–1.9 s on SQLite and 0.5–2 s on PostgreSQL at 1M tickets: four `LIKE '%q%'` and a join).

Chinese search words are mostly two characters (垃圾, 黑臭), which trigram indexes (pg_trgm,
FTS5's trigram tokenizer) cannot serve. So each ticket's searchable text — its number,
description, site, village and town names — is cut into runs of letters, digits and CJK
characters (after NFKC and lower-casing; anything else separates runs), and each run into its
overlapping bigrams followed by its last character: "河道垃圾" → 河道 道垃 垃圾 圾. A term of two
or more characters is then the phrase of its bigrams (consecutive in the document exactly when
the term is a substring of a run); a single character is a prefix of a token (a bigram it starts,
or the run's last character). Several runs in a query must all match, anywhere.

The index is kept by database triggers on the ticket, village and town tables (migration
0012_ticket_search), so every write path keeps it, bulk and raw SQL ones included:
- the document's bigrams are a row of TicketSearch, computed in the database by
  `renju_bigrams(text)` — on SQLite the Python function below, registered on every connection
  (workflows/apps.py); on PostgreSQL an SQL function that does the same (tested to agree);
- SQLite: an FTS5 table over TicketSearch (external content, kept by triggers);
  PostgreSQL: a stored tsvector column of the bigrams ('simple' configuration) with a GIN index.

A full ticket number (ZG-2024-000123) is looked up on the number's unique index instead.
"""

from __future__ import annotations

import re
import unicodedata

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

# Runs: ASCII letters and digits (after NFKC: full-width ones too), CJK ideographs (the URO and
# extension A). The PostgreSQL function uses the same class.
RUN = re.compile(r"[a-z0-9\u3400-\u9fff]+")
NUMBER = re.compile(r"[A-Za-z]{2}-\d{4}-\d{6,}")
SQL_FUNCTION = "renju_bigrams"
FTS5_TABLE = "workflows_ticketsearch_fts"
# PostgreSQL: up to this many matches in the list, filter it by their ids (_postgres_matches).
# A word common in the list pays for gathering one more than this before it goes the other way:
# as many as the list counts (views.SEARCH_COUNT_CAP), 17 ms at 1,000,000 tickets, where 2,001
# ids cost 45 ms.
RARE_MATCHES = 1000
RARE_IN_INDEX = 10_000  # PostgreSQL: up to this many in the whole index, the same (an array)
COMMON_ESTIMATE = 4 * RARE_IN_INDEX  # PostgreSQL: estimated above this, not even counted


def runs(text: str | None) -> list[str]:
    return RUN.findall(unicodedata.normalize("NFKC", text or "").lower())


def grams(text: str | None) -> list[str]:
    """The index's tokens of `text`: per run, its bigrams then its last character."""
    tokens: list[str] = []
    for run in runs(text):
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        tokens.append(run[-1])
    return tokens


def bigrams(text: str | None) -> str:
    """`grams` as the space-separated text stored in TicketSearch (the SQL function)."""
    return " ".join(grams(text))


def register_sqlite_function(sender, connection, **kwargs) -> None:
    """connection_created: `renju_bigrams` for the SQLite triggers (deterministic, so SQLite
    may use it in triggers and indexes)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQL_FUNCTION, 1, bigrams, deterministic=True)


# --- queries ----------------------------------------------------------------------------------


def _fts5_query(terms: list[str]) -> str:
    """FTS5: a phrase of bigrams per run, a prefix for a single character; implicit AND."""
    parts = []
    for run in terms:
        if len(run) == 1:
            parts.append(f'"{run}"*')
        else:
            parts.append('"' + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + '"')
    return " ".join(parts)


def _postgres_condition(terms: list[str]) -> tuple[str, list[str]]:
    """PostgreSQL: phraseto_tsquery over the run's bigrams (the same parser as the document's),
    a prefix lexeme for a single character; all ANDed."""
    parts, params = [], []
    for run in terms:
        if len(run) == 1:
            parts.append("to_tsquery('simple', %s)")
            params.append(f"'{run}':*")
        else:
            parts.append("phraseto_tsquery('simple', %s)")
            params.append(" ".join(run[i : i + 2] for i in range(len(run) - 1)))
    return "doc @@ (" + " && ".join(parts) + ")", params


def _postgres_ids_sql(terms: list[str]) -> tuple[str, list[str]]:
    """PostgreSQL: (SQL selecting the ids of the tickets matching all `terms`, its parameters)."""
    condition, params = _postgres_condition(terms)
    return f"SELECT ticket_id FROM workflows_ticketsearch WHERE {condition}", params


def ticket_search(queryset: QuerySet, q: str) -> QuerySet:
    """The tickets of `queryset` matching `q` (see the module): a whole ticket number by its
    unique index, any other text by the bigram index."""
    q = q.strip()
    if not q:
        return queryset
    if NUMBER.fullmatch(q):
        return queryset.filter(number=q.upper())
    terms = runs(q)
    if not terms:
        return queryset.none()
    if connection.vendor == "sqlite":
        return _fts5_join(queryset, _fts5_query(terms))
    return _postgres_matches(queryset, *_postgres_ids_sql(terms))


def _postgres_matches(queryset: QuerySet, sql: str, params: list[str]) -> QuerySet:
    """PostgreSQL: a term rare in the whole index (≤ RARE_IN_INDEX matches, gathered from the
    index alone unless the planner's estimate says it is surely common) filters the list by
    one array of its matches: a word of 0.5 % of a county's 1,000,000 tickets otherwise walked
    the list probing each ticket's index row (186 ms). Otherwise the matches of a term rare in
    the list (≤ RARE_MATCHES of the rows the user may see, under the filters applied so far)
    are gathered first and the list filtered by their ids (sorting a few hundred rows is free);
    a term common in the list stays a subquery, which the planner walks in the list's order,
    probing each ticket's row, until the page is full. Left to itself it chose the walk for a
    term of 0.5 % too (64 ms at 200,000 tickets, 360 ms before ANALYZE), and ids gathered first
    for a common one.

    Rare is told within the list, not the whole deployment: a word in 45,000 of a province's 9
    million tickets but in a few hundred of one county's made the county's list walk every one
    of its tickets for a page it never filled (1.19 s)."""
    if _estimated_matches(sql, params) <= COMMON_ESTIMATE:
        # The matches as one text, not a row each: 5,000 rows made 10,000 Python objects,
        # and a page that allocates them pays for the garbage collector's passes too (up to
        # 12 ms of a 60 ms page).
        gather = f"SELECT count(*), string_agg(ticket_id::text, ',') FROM ({sql} LIMIT %s) found"
        with connection.cursor() as cursor:
            cursor.execute(gather, [*params, RARE_IN_INDEX + 1])
            found, ids = cursor.fetchone()
        if found <= RARE_IN_INDEX:
            # Rare in the whole index: its matches, one array parameter, filter the list. The
            # array is sent as the text of one literal: as a list, the driver quoted each id
            # into the query on every use (~10 ms of Python for 5,000 ids, twice a page).
            table = queryset.model._meta.db_table
            literal = "{" + (ids or "") + "}"
            return queryset.extra(where=[f'"{table}"."id" = ANY(%s::bigint[])'], params=[literal])
    matching = queryset.filter(pk__in=RawSQL(sql, params))
    ids = list(matching.order_by().values_list("pk", flat=True)[: RARE_MATCHES + 1])
    if len(ids) <= RARE_MATCHES:
        return queryset.filter(pk__in=ids)
    return matching


def _estimated_matches(sql: str, params: list[str]) -> float:
    """The planner's estimate of the index's matches (its statistics of the most common
    lexemes: 5,232 for a word in 4,915 of 1,000,000 tickets, 334,453 for one in a third). Only
    ever used to skip gathering the matches of a word surely common (~20 ms for 10,001 rows):
    an estimate too high leaves a rare word to the list's own gathering, as before, and one too
    low costs that gathering; neither changes what is found."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()  # json: decoded by the driver
    return float(plan[0]["Plan"]["Plan Rows"])


def _fts5_join(queryset: QuerySet, match: str) -> QuerySet:
    """SQLite: the FTS5 table joined by rowid, newest match first (the ticket's id), so that the
    query is driven by the index in its own order and stops at the page: an `id IN (…)` would
    first gather every match (1/3 of 200,000 tickets for 垃圾: ~20 ms a query, three queries a
    page). A sort chosen with `?o=` replaces this order. (`extra` is the ORM's only way to
    join a table it has no model for.)"""
    table = queryset.model._meta.db_table
    return queryset.extra(
        tables=[FTS5_TABLE],
        where=[f'{FTS5_TABLE}.rowid = "{table}"."id"', f"{FTS5_TABLE} MATCH %s"],
        params=[match],
        select={"search_rank": f"{FTS5_TABLE}.rowid"},
    ).order_by("-search_rank")

"""What the database-trigger features (the dashboard's rollups, the tickets' search index) share:
the names of the triggers a database has, to re-install theirs after a migration dropped them
(SQLite drops a table's triggers when it rebuilds the table to alter it)."""

from __future__ import annotations

from django.db import connections


def installed_triggers(using: str = "default") -> set[str]:
    """Every user-defined trigger of the database `using` (SQLite or PostgreSQL)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in cursor.fetchall()}

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = _("Tickets and jobs")

    def ready(self) -> None:
        from workflows.tickets.search import register_sqlite_function

        # The search index's triggers call renju_bigrams on SQLite (workflows/tickets/search.py).
        connection_created.connect(register_sqlite_function, dispatch_uid="renju_bigrams")
        # Its triggers again if a migration dropped them (SQLite drops a table's triggers when
        # it rebuilds the table to alter it).
        post_migrate.connect(_ensure_search_triggers, sender=self)


def _ensure_search_triggers(sender, using="default", **kwargs) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from workflows.tickets import search_sql

    applied = MigrationRecorder(connections[using]).migration_qs
    if applied.filter(app="workflows", name="0012_ticket_search").exists():
        search_sql.ensure_installed(using)

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self) -> None:
        # The one use of a signal for state (docs/architecture.md §1): workflows may not import
        # inspections, so a closed ticket reaches its water site this way, inside the closing
        # transaction.
        from inspections.sites.services import on_ticket_closed
        from workflows.tickets.services import ticket_closed

        ticket_closed.connect(on_ticket_closed, dispatch_uid="inspections.site_rectified")

        # The blank import files of the water-site register and the checklist, offered with
        # villages' own (villages may not import inspections).
        from inspections import import_templates

        import_templates.register()

        # Who may see a patrol's or a deduction's evidence photos (workflows serves them and
        # asks its holders: workflows.evidence.holders).
        from inspections import photo_holders

        photo_holders.register()

        # The tickets per state of the inbox's tabs and of a list narrowed by states alone, from
        # the dashboard's rollups instead of counting tickets (workflows.tickets.selectors).
        from inspections.reporting.dashboard import state_counts
        from workflows.tickets.selectors import register_state_counts

        register_state_counts(state_counts)

        # The dashboard's rollup triggers, again if a migration dropped them (SQLite drops a
        # table's triggers when it rebuilds the table to alter it).
        post_migrate.connect(_ensure_rollup_triggers, sender=self)


def _ensure_rollup_triggers(sender, using="default", **kwargs) -> None:
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from inspections.reporting import rollups

    # The rollup tables the triggers write are those of the latest rollup migration; before it
    # is applied (or after it is reversed) the triggers of that time are that code's business.
    applied = MigrationRecorder(connections[using]).migration_qs
    if applied.filter(app="inspections", name="0009_closed_late").exists():
        rollups.ensure_installed(using)

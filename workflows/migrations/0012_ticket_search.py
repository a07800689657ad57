"""The bigram search index of rectification tickets (workflows/tickets/search.py): TicketSearch
rows kept by triggers on the ticket, village and town tables; FTS5 over them on SQLite, a tsvector
column with a GIN index on PostgreSQL; filled for the tickets already there. And the index of the
list's order when a search drops the default filters."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from workflows.tickets import search_sql


def forwards(apps, schema_editor):
    search_sql.install(schema_editor.connection.alias)
    search_sql.rebuild(schema_editor.connection.alias)


def backwards(apps, schema_editor):
    search_sql.uninstall(schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("villages", "0002_people"),
        ("workflows", "0011_evidence_print_copy"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TicketSearch",
            fields=[
                (
                    "ticket",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="workflows.rectificationticket",
                    ),
                ),
                ("bigrams", models.TextField()),
            ],
            options={
                "verbose_name": "ticket search text",
                "verbose_name_plural": "ticket search texts",
            },
        ),
        migrations.AddIndex(
            model_name="rectificationticket",
            index=models.Index(fields=["-created_at", "-id"], name="rect_created"),
        ),
        migrations.RunPython(forwards, backwards),
    ]

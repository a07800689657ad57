"""The default overdue ladder (DESIGN §3): +1 day reminder, +3 supervision notice, +7 bulletin.
The county edits it afterwards in the admin; rows already there are left alone."""

from django.db import migrations

DEFAULT_LADDER = [(1, 1, "reminder"), (2, 3, "supervision"), (3, 7, "bulletin")]


def seed(apps, schema_editor):
    OverdueStep = apps.get_model("workflows", "OverdueStep")
    for number, days_past, kind in DEFAULT_LADDER:
        OverdueStep.objects.get_or_create(
            number=number, defaults={"days_past": days_past, "kind": kind}
        )


class Migration(migrations.Migration):
    dependencies = [("workflows", "0003_notices")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

"""The county of bulletins, notice documents and overdue steps (filled in 0014) is required; a
county's ladder numbers its steps once; a bulletin's number
is unique per county and year, a notice document's per county."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("workflows", "0014_county_documents")]

    operations = [
        migrations.AlterModelOptions(
            name="overduestep",
            options={
                "ordering": ["county", "number"],
                "verbose_name": "overdue step",
                "verbose_name_plural": "overdue steps",
            },
        ),
        migrations.AlterField(
            model_name="overduestep",
            name="county",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="villages.county",
                verbose_name="county",
            ),
        ),
        migrations.AddConstraint(
            model_name="overduestep",
            constraint=models.UniqueConstraint(
                fields=("county", "number"), name="overdue_step_per_county"
            ),
        ),
        migrations.AlterField(
            model_name="bulletin",
            name="county",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="bulletins",
                to="villages.county",
                verbose_name="county",
            ),
        ),
        migrations.AddConstraint(
            model_name="bulletin",
            constraint=models.UniqueConstraint(
                condition=Q(batch__isnull=False),
                fields=("county", "year", "batch"),
                name="bulletin_batch_per_county_year",
            ),
        ),
        migrations.AlterField(
            model_name="noticedocument",
            name="county",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="villages.county",
                verbose_name="county",
            ),
        ),
        migrations.AlterField(
            model_name="noticedocument",
            name="number",
            field=models.CharField(max_length=40, verbose_name="number"),
        ),
        migrations.AddConstraint(
            model_name="noticedocument",
            constraint=models.UniqueConstraint(
                fields=("county", "number"), name="notice_document_number"
            ),
        ),
    ]

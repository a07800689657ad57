"""Every membership names its county (the tenant; villages.scope).

Backfilled from the membership's town or village; a county-wide membership (no town, no village)
gets the only county when the database holds exactly one. With several counties a county-wide
membership cannot be placed from its row: the migration stops and names it, and nothing changes
(give it a town first, or delete it, then migrate again)."""

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models


def backfill_county(apps, schema_editor):
    Membership = apps.get_model("villages", "Membership")
    County = apps.get_model("villages", "County")
    Town = apps.get_model("villages", "Town")
    Village = apps.get_model("villages", "Village")
    towns = dict(Town.objects.values_list("code", "county_id"))
    village_towns = dict(
        Village.objects.filter(
            code__in=Membership.objects.exclude(village=None).values("village_id")
        ).values_list("code", "town_id")
    )
    counties = list(County.objects.order_by("code").values_list("code", flat=True))
    ambiguous = []
    for membership in Membership.objects.filter(county=None).select_related("user"):
        if membership.village_id:
            county = towns[village_towns[membership.village_id]]
        elif membership.town_id:
            county = towns[membership.town_id]
        elif len(counties) == 1:
            county = counties[0]
        else:
            ambiguous.append(f"{membership.user.username} ({membership.role})")
            continue
        Membership.objects.filter(pk=membership.pk).update(county_id=county)
    if ambiguous:
        raise RuntimeError(
            f"Cannot tell the county of {len(ambiguous)} county-wide membership(s): "
            f"{', '.join(ambiguous)}. The database holds {len(counties)} counties "
            f"({', '.join(counties) or 'none'}), and a membership naming no town and no village "
            "is placed in the only county. Give these memberships a county (or delete them) "
            "and run the migration again; nothing was changed."
        )


class Migration(migrations.Migration):

    dependencies = [
        ('villages', '0003_access_tokens'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='membership',
            name='membership_unique_county',
        ),
        migrations.AddField(
            model_name='membership',
            name='county',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='villages.county', verbose_name='county'),
        ),
        migrations.RunPython(backfill_county, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name='membership',
            name='county',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='villages.county', verbose_name='county'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(condition=models.Q(('town__isnull', True), ('village__isnull', True)), fields=('user', 'role', 'county'), name='membership_unique_county'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('town__isnull', True), django.db.models.lookups.Exact(django.db.models.functions.text.Left('town_id', 6), django.db.models.functions.text.Left('county_id', 6)), _connector='OR'), name='membership_county_of_town', violation_error_message='The town lies in another county.'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('village__isnull', True), django.db.models.lookups.Exact(django.db.models.functions.text.Left('village_id', 6), django.db.models.functions.text.Left('county_id', 6)), _connector='OR'), name='membership_county_of_village', violation_error_message='The village lies in another county.'),
        ),
        migrations.AddConstraint(
            model_name='town',
            constraint=models.CheckConstraint(condition=django.db.models.lookups.Exact(django.db.models.functions.text.Left('code', 6), django.db.models.functions.text.Left('county_id', 6)), name='town_code_in_county'),
        ),
        migrations.AddConstraint(
            model_name='village',
            constraint=models.CheckConstraint(condition=django.db.models.lookups.Exact(django.db.models.functions.text.Left('code', 6), django.db.models.functions.text.Left('town_id', 6)), name='village_code_in_county'),
        ),
    ]

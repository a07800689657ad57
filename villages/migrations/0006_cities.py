"""Cities (地级市) above the counties, and the city supervisor's membership (issue 20).

A county's parent_code becomes its city's code, told by the county code's first 4 digits: blank
ones are filled in, and one that named another code (the import took any 12 digits for a
county's parent) is corrected, so that the new county_parent_is_its_city constraint holds. No
City row is made: a city gets its name when the division list's city row is imported (until
then pages name it by its code). Memberships keep their county; only a city supervisor's names a
city instead."""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models
from django.db.models import Value
from django.db.models.functions import Concat, Left


def parent_is_city(apps, schema_editor):
    County = apps.get_model("villages", "County")
    County.objects.update(parent_code=Concat(Left("code", 4), Value("00000000")))


class Migration(migrations.Migration):

    dependencies = [
        ('villages', '0004_membership_county'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='City',
            fields=[
                ('code', models.CharField(max_length=12, primary_key=True, serialize=False, validators=[django.core.validators.RegexValidator('^\\d{4}0{8}$', 'A city code has 12 digits: 4 of the city, then 8 zeros.')], verbose_name='code')),
                ('name', models.CharField(max_length=50, verbose_name='name')),
            ],
            options={
                'verbose_name': 'city',
                'verbose_name_plural': 'cities',
                'ordering': ['code'],
            },
        ),
        migrations.AlterField(
            model_name='membership',
            name='county',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='villages.county', verbose_name='county'),
        ),
        migrations.AlterField(
            model_name='membership',
            name='role',
            field=models.CharField(choices=[('inspector', 'inspector (巡查员)'), ('town_officer', 'town officer (乡镇专干)'), ('task_force', 'county task force (县专班)'), ('service_worker', 'service worker (管护员)'), ('village_admin', 'village admin (村管员)'), ('city_supervisor', 'city supervisor (市级督导)')], max_length=20, verbose_name='role'),
        ),
        migrations.RunPython(parent_is_city, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name='county',
            constraint=models.CheckConstraint(condition=models.Q(('parent_code', ''), django.db.models.lookups.Exact(models.F('parent_code'), django.db.models.functions.text.Concat(django.db.models.functions.text.Left('code', 4), models.Value('00000000'))), _connector='OR'), name='county_parent_is_its_city'),
        ),
        migrations.AddConstraint(
            model_name='city',
            constraint=models.CheckConstraint(condition=models.Q(('code__endswith', '00000000')), name='city_code_ends_in_zeros'),
        ),
        migrations.AddField(
            model_name='membership',
            name='city',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='villages.city', verbose_name='city'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(condition=models.Q(('city__isnull', False)), fields=('user', 'role', 'city'), name='membership_unique_city'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('city__isnull', True), ('county__isnull', False)), ('role', 'city_supervisor'), _connector='OR'), name='membership_has_county'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('role', 'city_supervisor'), _negated=True), models.Q(('city__isnull', False), ('county__isnull', True), ('town__isnull', True), ('village__isnull', True)), _connector='OR'), name='membership_city_supervisor_has_city'),
        ),
    ]

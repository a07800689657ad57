"""Bulletins and notice documents become their county's (issue 20): each names its county,
bulletins numbered 第N批 per county and year, notices 第N号 per county, kind and year; the number
counters (TicketCounter) of county documents name their county (0015 makes the columns required
and the numbers unique per county).

The backfill: a bulletin's county is its recipients' towns' (or its items' tickets'), else its
creator's task-force membership's, else the only county; each county's bulletin counter of a
year continues from its own highest batch. A draft still carrying the old issuer
(县农村人居环境整治工作专班) gets its county's (金乡县农村人居环境整治工作专班); issued bulletins keep
their frozen text, whose header the page completes with the bulletin's county. A notice
document's county is its town's; each county's notice counters continue from its own highest
number. The overdue ladder becomes each county's: every existing county gets the steps there
were.
"""

import re

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Max, Q

OLD_ISSUER = "县农村人居环境整治工作专班"
ISSUER_SUFFIX = "农村人居环境整治工作专班"
BULLETIN_COUNTER = "TB"


def _county_of(bulletin, Membership, only):
    towns = list(bulletin.recipients.values_list("county_id", flat=True)[:1])
    towns += list(bulletin.items.values_list("ticket__town__county_id", flat=True)[:1])
    if towns:
        return towns[0]
    membership = (
        Membership.objects.filter(user_id=bulletin.created_by_id, role="task_force")
        .values_list("county_id", flat=True)
        .first()
    )
    return membership or only


def backfill(apps, schema_editor):
    Bulletin = apps.get_model("workflows", "Bulletin")
    County = apps.get_model("villages", "County")
    Membership = apps.get_model("villages", "Membership")
    TicketCounter = apps.get_model("workflows", "TicketCounter")
    counties = list(County.objects.order_by("code").values_list("code", flat=True))
    if not Bulletin.objects.exists():
        TicketCounter.objects.filter(prefix=BULLETIN_COUNTER).delete()
        return
    only = counties[0] if counties else None
    names = dict(County.objects.values_list("code", "name"))
    for bulletin in Bulletin.objects.all():
        bulletin.county_id = _county_of(bulletin, Membership, only)
        if bulletin.state == "draft" and bulletin.issuer in ("", OLD_ISSUER):
            bulletin.issuer = names[bulletin.county_id] + ISSUER_SUFFIX
        bulletin.save(update_fields=["county", "issuer"])
    TicketCounter.objects.filter(prefix=BULLETIN_COUNTER).delete()
    highest = (
        Bulletin.objects.exclude(batch=None).values("county_id", "year").annotate(top=Max("batch"))
    )
    TicketCounter.objects.bulk_create(
        TicketCounter(
            prefix=BULLETIN_COUNTER, year=row["year"], county=row["county_id"], value=row["top"]
        )
        for row in highest
    )


NOTICE_COUNTERS = {"reminder": "NREM", "supervision": "NSUP", "bulletin": "NBUL"}
NOTICE_COUNTERS |= {"sla": "NSLA", "patrol": "NPAT"}
NUMBER = re.compile(r"第(\d+)号$")


def backfill_notices(apps, schema_editor):
    NoticeDocument = apps.get_model("workflows", "NoticeDocument")
    TicketCounter = apps.get_model("workflows", "TicketCounter")
    Town = apps.get_model("villages", "Town")
    for county in Town.objects.values_list("county_id", flat=True).distinct():
        NoticeDocument.objects.filter(town__county_id=county).update(county_id=county)
    TicketCounter.objects.filter(prefix__in=NOTICE_COUNTERS.values(), county="").delete()
    highest: dict[tuple, int] = {}
    rows = NoticeDocument.objects.values_list("county_id", "kind", "issued_on", "number")
    for county, kind, issued_on, number in rows.iterator():
        match = NUMBER.search(number)
        if match and kind in NOTICE_COUNTERS:
            key = (NOTICE_COUNTERS[kind], issued_on.year, county)
            highest[key] = max(highest.get(key, 0), int(match[1]))
    TicketCounter.objects.bulk_create(
        TicketCounter(prefix=prefix, year=year, county=county, value=value)
        for (prefix, year, county), value in highest.items()
    )


def ladders(apps, schema_editor):
    """The ladder there was becomes the first county's; every other county gets a copy. Without
    a county yet, the steps go: the job gives each county the default ladder when it appears."""
    County = apps.get_model("villages", "County")
    OverdueStep = apps.get_model("workflows", "OverdueStep")
    counties = list(County.objects.order_by("code").values_list("code", flat=True))
    if not counties:
        OverdueStep.objects.all().delete()
        return
    steps = list(OverdueStep.objects.order_by("number"))
    OverdueStep.objects.update(county_id=counties[0])
    OverdueStep.objects.bulk_create(
        OverdueStep(county_id=code, number=s.number, days_past=s.days_past, kind=s.kind)
        for code in counties[1:]
        for s in steps
    )


class Migration(migrations.Migration):
    dependencies = [
        ("villages", "0005_county_settings"),
        ("workflows", "0013_source_hotline"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="bulletin", name="bulletin_batch_per_year"),
        migrations.RemoveConstraint(model_name="ticketcounter", name="ticket_counter_unique"),
        migrations.AddField(
            model_name="ticketcounter",
            name="county",
            field=models.CharField(blank=True, default="", max_length=12),
        ),
        migrations.AddConstraint(
            model_name="ticketcounter",
            constraint=models.UniqueConstraint(
                fields=("prefix", "year", "county"), name="ticket_counter_county_unique"
            ),
        ),
        migrations.AddField(
            model_name="bulletin",
            name="county",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="bulletins",
                to="villages.county",
                verbose_name="county",
            ),
        ),
        migrations.AlterField(
            model_name="bulletin",
            name="issuer",
            field=models.CharField(blank=True, max_length=100, verbose_name="issuer"),
        ),
        migrations.AddField(
            model_name="noticedocument",
            name="county",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="villages.county",
                verbose_name="county",
            ),
        ),
        migrations.AddField(
            model_name="overduestep",
            name="county",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="villages.county",
                verbose_name="county",
            ),
        ),
        migrations.AlterField(
            model_name="overduestep",
            name="number",
            field=models.PositiveSmallIntegerField(verbose_name="step"),
        ),
        # The rows are filled here and the columns made required in 0015: PostgreSQL refuses
        # to alter a table with pending foreign-key checks in the transaction that wrote it.
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(backfill_notices, migrations.RunPython.noop),
        migrations.RunPython(ladders, migrations.RunPython.noop),
    ]

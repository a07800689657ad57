"""Every county-level object of inspections belongs to one county (the tenant; issue 20):
checklists, campaigns (their rounds and assessments follow through the campaign) and the two
policies, which become one row per county.

Backfilled: a campaign gets the county of its assessments' villages, a checklist the county of
the campaigns and rounds using it, and either, when nothing tells, the only county of the
database. A checklist the campaigns of several counties use stays the first county's (by code),
and each other county gets a copy of it (same name, version and items) that its campaigns,
rounds and deductions are moved to, so that every score stays as it was. With several counties and no way to tell (no assessment yet, or villages of two
counties), the migration stops, names the rows, and changes nothing: give them a county by hand
(or delete them) and migrate again. The policy (one row until now, for the whole deployment)
becomes every county's: each county keeps applying the settings it was applying. A policy row
in a database without any county has no county to belong to and is dropped (it is made again
with its defaults for each county)."""

import django.db.models.deletion
from django.core.management.color import no_style
from django.db import migrations, models


class Ambiguous(list):
    def add(self, what: str, counties: set[str]) -> None:
        self.append(f"{what} ({', '.join(sorted(counties)) or 'no county found'})")


def backfill_county(apps, schema_editor):
    County = apps.get_model("villages", "County")
    counties = list(County.objects.order_by("code").values_list("code", flat=True))
    ambiguous = Ambiguous()
    campaigns = _campaign_counties(apps, counties, ambiguous)
    _checklist_counties(apps, counties, campaigns, ambiguous)
    if ambiguous:
        raise RuntimeError(
            f"Cannot tell the county of {len(ambiguous)} row(s): {'; '.join(ambiguous)}. "
            f"The database holds {len(counties)} counties ({', '.join(counties) or 'none'}); "
            "a campaign takes the county of its assessments' villages, a checklist that of the "
            "campaigns and rounds using it, or either the only county. Give these rows a "
            "county (or delete them) and run the migration again; nothing was changed."
        )
    policies = [apps.get_model("inspections", name) for name in ("GradingPolicy", "PatrolPolicy")]
    for policy in policies:
        _policy_per_county(policy, counties)
    # The one row was made with an explicit pk=1, which moved no PostgreSQL sequence: without
    # this, the next county's row (and the copies above) would be given id 1 again.
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), policies):
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            # The foreign keys written above are checked at commit (deferred); PostgreSQL
            # refuses to ALTER a table with such checks pending, as the next operations do.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _only(found: set[str], counties: list[str]) -> str | None:
    if len(found) == 1:
        return next(iter(found))
    if not found and len(counties) == 1:
        return counties[0]
    return None


def _campaign_counties(apps, counties, ambiguous) -> dict[int, str]:
    Campaign = apps.get_model("inspections", "Campaign")
    Assessment = apps.get_model("inspections", "Assessment")
    found: dict[int, set[str]] = {}
    pairs = Assessment.objects.values_list("round__campaign_id", "village__town__county_id")
    for campaign, county in pairs.distinct():
        found.setdefault(campaign, set()).add(county)
    placed = {}
    for campaign in Campaign.objects.order_by("pk"):
        county = _only(found.get(campaign.pk, set()), counties)
        if county is None:
            ambiguous.add(f"campaign {campaign.pk} “{campaign.name}”", found.get(campaign.pk, set()))
            continue
        placed[campaign.pk] = county
        Campaign.objects.filter(pk=campaign.pk).update(county_id=county)
    return placed


def _checklist_counties(apps, counties, campaigns, ambiguous) -> None:
    ChecklistTemplate = apps.get_model("inspections", "ChecklistTemplate")
    Campaign = apps.get_model("inspections", "Campaign")
    Round = apps.get_model("inspections", "Round")
    found: dict[int, set[str]] = {}
    users = list(Campaign.objects.values_list("template_id", "pk"))
    users += list(Round.objects.exclude(template=None).values_list("template_id", "campaign_id"))
    for template, campaign in users:
        if campaign in campaigns:
            found.setdefault(template, set()).add(campaigns[campaign])
    for template in ChecklistTemplate.objects.order_by("pk"):
        using = found.get(template.pk, set())
        if len(using) > 1:
            # Shared by the campaigns of several counties: the first county (by code) keeps it,
            # each other gets a copy its campaigns, rounds and deductions are moved to.
            first, *others = sorted(using)
            ChecklistTemplate.objects.filter(pk=template.pk).update(county_id=first)
            for county in others:
                _copy_for(apps, template, county)
            continue
        county = _only(using, counties)
        if county is None:
            what = f"checklist {template.pk} “{template.name} v{template.version}”"
            ambiguous.add(what, using)
            continue
        ChecklistTemplate.objects.filter(pk=template.pk).update(county_id=county)


def _copy_for(apps, template, county: str) -> None:
    """`template` with its items as `county`'s own; that county's campaigns, rounds and
    deductions point at the copy (items matched by code), so its scores stay as they were."""
    ChecklistTemplate = apps.get_model("inspections", "ChecklistTemplate")
    ChecklistItem = apps.get_model("inspections", "ChecklistItem")
    Campaign = apps.get_model("inspections", "Campaign")
    Round = apps.get_model("inspections", "Round")
    Deduction = apps.get_model("inspections", "Deduction")
    copy = ChecklistTemplate.objects.create(
        county_id=county,
        name=template.name,
        version=template.version,
        created_at=template.created_at,
        note=template.note,
    )
    items = {}
    for item in ChecklistItem.objects.filter(template_id=template.pk).order_by("pk"):
        old = item.pk
        item.pk, item.template_id = None, copy.pk
        item.save(force_insert=True)
        items[old] = item.pk
    Campaign.objects.filter(template_id=template.pk, county_id=county).update(template=copy)
    Round.objects.filter(template_id=template.pk, campaign__county_id=county).update(
        template=copy
    )
    deductions = Deduction.objects.filter(assessment__round__campaign__county_id=county)
    for old, new in items.items():
        deductions.filter(item_id=old).update(item_id=new)


def _policy_per_county(Policy, counties: list[str]) -> None:
    existing = Policy.objects.filter(county=None).order_by("pk").first()
    if existing is None:
        return
    if not counties:
        existing.delete()
        return
    Policy.objects.filter(pk=existing.pk).update(county_id=counties[0])
    for number, county in enumerate(counties[1:], start=existing.pk + 1):
        existing.pk, existing.county_id = number, county
        existing.save(force_insert=True)


def _county(related_name: str, *, one: bool = False, null: bool = False):
    field = models.OneToOneField if one else models.ForeignKey
    return field(
        null=null,
        on_delete=django.db.models.deletion.PROTECT,
        related_name=related_name,
        to="villages.county",
        verbose_name="county",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0005_rollups"),
        ("villages", "0004_membership_county"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="checklisttemplate", name="checklist_name_version"),
        migrations.RemoveConstraint(model_name="gradingpolicy", name="grading_policy_single"),
        migrations.RemoveConstraint(model_name="patrolpolicy", name="patrol_policy_single"),
        migrations.AlterField(
            model_name="campaign",
            name="name",
            field=models.CharField(max_length=100, verbose_name="name"),
        ),
        migrations.AddField(
            model_name="checklisttemplate",
            name="county",
            field=_county("checklists", null=True),
        ),
        migrations.AddField(
            model_name="campaign", name="county", field=_county("campaigns", null=True)
        ),
        migrations.AddField(
            model_name="gradingpolicy",
            name="county",
            field=_county("grading_policy", one=True, null=True),
        ),
        migrations.AddField(
            model_name="patrolpolicy",
            name="county",
            field=_county("patrol_policy", one=True, null=True),
        ),
        migrations.RunPython(backfill_county, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="checklisttemplate", name="county", field=_county("checklists")
        ),
        migrations.AlterField(model_name="campaign", name="county", field=_county("campaigns")),
        migrations.AlterField(
            model_name="gradingpolicy",
            name="county",
            field=_county("grading_policy", one=True),
        ),
        migrations.AlterField(
            model_name="patrolpolicy",
            name="county",
            field=_county("patrol_policy", one=True),
        ),
        migrations.AddConstraint(
            model_name="checklisttemplate",
            constraint=models.UniqueConstraint(
                fields=("county", "name", "version"), name="checklist_name_version"
            ),
        ),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.UniqueConstraint(
                fields=("county", "name"), name="campaign_name_per_county"
            ),
        ),
    ]

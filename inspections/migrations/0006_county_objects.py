"""Every county-level object of inspections belongs to one county (the tenant; issue 20):
checklists, campaigns (their rounds and assessments follow through the campaign) and the two
policies, which become one row per county.

Backfilled: a campaign gets the county of its assessments' villages, a checklist the county of
the campaigns and rounds using it, and either, when nothing tells, the only county of the
database. With several counties and no way to tell (no assessment yet, or villages of two
counties), the migration stops, names the rows, and changes nothing: give them a county by hand
(or delete them) and migrate again. The policy (one row until now, for the whole deployment)
becomes every county's: each county keeps applying the settings it was applying. A policy row
in a database without any county has no county to belong to and is dropped (it is made again
with its defaults for each county)."""

import django.db.models.deletion
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
    for name in ("GradingPolicy", "PatrolPolicy"):
        _policy_per_county(apps.get_model("inspections", name), counties)


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
        county = _only(found.get(template.pk, set()), counties)
        if county is None:
            what = f"checklist {template.pk} “{template.name} v{template.version}”"
            ambiguous.add(what, found.get(template.pk, set()))
            continue
        ChecklistTemplate.objects.filter(pk=template.pk).update(county_id=county)


def _policy_per_county(Policy, counties: list[str]) -> None:
    existing = Policy.objects.filter(county=None).order_by("pk").first()
    if existing is None:
        return
    if not counties:
        existing.delete()
        return
    Policy.objects.filter(pk=existing.pk).update(county_id=counties[0])
    for county in counties[1:]:
        existing.pk = None
        existing.county_id = county
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

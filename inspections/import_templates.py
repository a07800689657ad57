"""The blank import files of inspections' registers: the water-site register (黑臭水体清单) and
the checklist (检查评分表). The registry and the workbook are villages' (villages.import_templates);
InspectionsConfig.ready() registers these kinds there, since villages may not import
inspections."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from inspections.grading import checklists
from inspections.models import Dimension
from inspections.sites import imports as sites
from villages import access
from villages.import_templates import (
    ImportCounts,
    ImportTemplate,
    TemplateColumn,
    optional,
    required,
    template_register,
)
from villages.models import County


def water_sites_template() -> ImportTemplate:
    h = sites.COLUMN_ALIASES
    phone = _("An 11-digit mobile, or a landline with its area code: 0537-8721234")
    return ImportTemplate(
        kind="sites",
        title=_("Water-site register"),
        intro=_(
            "One row per black-odorous water body, known by its number: importing the register "
            "again updates the sites it lists; a site's QR label and state are never changed."
        ),
        command="import_sites",
        columns=(
            TemplateColumn(
                h["code"][0],
                required(),
                _("Unique in the county; at most %(max)d characters")
                % {"max": sites.MAX_LENGTH["code"]},
                "JX-HC-0001",
                text=True,
            ),
            TemplateColumn(h["name"][0], required(), "", "胡集村东坑塘", width=20),
            TemplateColumn(
                h["town"][0], required(), _("The town's name or its 12-digit code"), "胡集镇"
            ),
            TemplateColumn(
                h["village"][0],
                optional(),
                _("The village's name within the town, or its 12-digit code"),
                "胡集村",
            ),
            TemplateColumn(
                h["type"][0],
                required(),
                "",
                "坑塘",
                choices=("河流", "坑塘", "沟渠", "湖泊", "水库"),
            ),
            TemplateColumn(
                f"{h['area'][0]}(m²)",
                optional(),
                _("Square metres; a header 面积(亩) takes 亩 instead"),
                1200,
            ),
            TemplateColumn(
                h["lng"][0],
                required(),
                _("Decimal degrees (116.2390) or degrees, minutes, seconds (116°14′20.4″)"),
                116.2390,
            ),
            TemplateColumn(h["lat"][0], required(), _("Decimal degrees (35.0262)"), 35.0262),
            TemplateColumn(
                h["crs"][0],
                optional(),
                _("GCJ02 for positions taken from AMap or Tencent maps; blank: WGS84"),
                "WGS84",
                choices=("WGS84", "GCJ02", "CGCS2000"),
            ),
            TemplateColumn(
                h["level"][0],
                optional(),
                _("Blank: 县级"),
                "县级",
                choices=("国家级", "省级", "县级"),
            ),
            TemplateColumn(h["treatment"][0], optional(), "", "清淤、截污", width=20),
            TemplateColumn(h["county_person"][0], required(), "", "王主任"),
            TemplateColumn(h["county_phone"][0], optional(), phone, "13805370001", text=True),
            TemplateColumn(h["town_person"][0], required(), "", "张镇长"),
            TemplateColumn(h["town_phone"][0], optional(), phone, "13805370002", text=True),
            TemplateColumn(h["village_person"][0], required(), "", "李书记"),
            TemplateColumn(h["village_phone"][0], optional(), phone, "13805370003", text=True),
            TemplateColumn(
                h["patrols"][0],
                optional(),
                _("Patrols a month, 1 to %(max)d; blank: 1") % {"max": sites.MAX_PATROLS},
                2,
            ),
            TemplateColumn(
                h["state"][0],
                optional(),
                _("Read for new sites only; blank: 治理中"),
                "治理中",
                choices=("治理中", "已验收·管护中"),
            ),
        ),
    )


def checklist_template() -> ImportTemplate:
    h = checklists.COLUMN_ALIASES
    points = _("Points: 2.5 or 2.5分")
    yes_no = (checklists.YES, checklists.NO)
    return ImportTemplate(
        kind="checklist",
        title=_("Checklist"),
        intro=_(
            "One row per item of the scoring table; each import makes a new version of the "
            "checklist it names, and rounds keep the version they started with."
        ),
        command="import_checklist --name 村村到检查表",
        columns=(
            TemplateColumn(
                h["code"][0],
                required(),
                _("Unique in the checklist; at most %(max)d characters")
                % {"max": checklists.MAX_LENGTH["code"]},
                "T1",
                text=True,
            ),
            TemplateColumn(
                h["dimension"][0],
                required(),
                "",
                checklists.DIMENSION_NAMES[Dimension.TOILETS],
                choices=tuple(checklists.DIMENSION_NAMES.values()),
            ),
            TemplateColumn(h["title"][0], required(), "", "户厕粪污直排或化粪池满溢", width=40),
            TemplateColumn(h["max_points"][0], required(), points, 2),
            TemplateColumn(h["deduction"][0], required(), points, 0.5),
            TemplateColumn(h["cap"][0], optional(), _("Blank: the item's points"), 2),
            TemplateColumn(
                h["photos_required"][0],
                optional(),
                _("Blank: %(value)s") % {"value": checklists.YES},
                checklists.YES,
                choices=yes_no,
            ),
            TemplateColumn(
                h["veto"][0],
                optional(),
                _("Blank: %(value)s") % {"value": checklists.NO},
                checklists.NO,
                choices=yes_no,
            ),
        ),
    )


def water_sites_run(path: Path, user=None) -> ImportCounts:
    summary = sites.water_sites_import(path=path, user=user)
    return ImportCounts(summary.created, summary.updated, summary.unchanged)


def checklist_run(path: Path, user=None) -> ImportCounts:
    """A new version of the county's checklist (checklists.DEFAULT_NAME), its items counted as
    created; a file equal to the latest version creates nothing and counts them unchanged."""
    county = _county_of(user)
    summary = checklists.checklist_import(path=path, name=checklists.DEFAULT_NAME, county=county)
    created = summary.items if summary.created else 0
    return ImportCounts(
        created=created,
        updated=0,
        unchanged=summary.items - created,
        notes=tuple(checklists.report_lines(summary)),
    )


def _county_of(user) -> County:
    """The county whose checklist an upload versions: where the user imports county-wide (a
    superuser, or a command without a user: the only county)."""
    code = access.county_code(user, "imports.run") if user is not None else None
    found = list((County.objects.filter(code=code) if code else County.objects.all())[:2])
    if len(found) != 1:
        message = _("Import a checklist as the task force of one county.")
        raise checklists.ChecklistImportError([message])
    return found[0]


def register() -> None:
    """Called by InspectionsConfig.ready()."""
    template_register("sites", water_sites_template, water_sites_run)
    template_register("checklist", checklist_template, checklist_run)

"""Blank import files (导入模板): for each kind of import an .xlsx an office fills in Excel.

Its first sheet has the header row the import reads and one example row; its second, 说明,
says for each column whether it is required, its format and the values it takes. Columns of
codes, numbers and phones are formatted as text, so Excel keeps every digit instead of showing
3.70828E+11; columns with a few allowed values offer them as a drop-down list.

Each kind is a function returning its ImportTemplate, its headers taken from its import's own
column aliases (the name messages show), so a template cannot drift from what its import reads;
a test imports every template, example row and all, through the real import service.

The registry is here; villages registers its kinds below (division list, household ledger,
staff roster) and inspections adds its own from its AppConfig.ready(): villages never imports
inspections (docs/architecture.md §1). `manage.py import_template KIND` and the task force's
download (/imports/templates/<kind>.xlsx) read it. A kind registered with `run` — its import,
path → ImportCounts — is offered on the task force's import page (/imports/); the staff roster
has its own page (/people/import/).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from villages import access, households, imports
from villages.access import COUNTY_ROLES, MEMBERSHIP_JURISDICTION

TEXT = "@"  # Excel's Text number format: what is typed stays as typed
DATE = "yyyy-mm-dd"
FORMATTED_ROWS = 2000  # rows below the header that get the drop-down lists
REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
EXAMPLE_FONT = Font(color="808080", italic=True)


@dataclass(frozen=True)
class TemplateColumn:
    header: str  # as the import reads it
    required: str  # "required", "optional" or when (translated)
    format: str = ""  # what a cell holds (translated)
    example: Any = ""
    choices: tuple[str, ...] = ()  # the values allowed, offered as a drop-down list
    text: bool = False  # codes, numbers with leading zeros, phones: cells formatted as text
    width: int = 14


@dataclass(frozen=True)
class ImportTemplate:
    kind: str
    title: str  # the sheet's and the file's name (translated)
    intro: str  # what a row is (translated)
    command: str  # how it is imported from a shell
    columns: tuple[TemplateColumn, ...]

    @property
    def filename(self) -> str:
        return f"{self.title}.xlsx"


@dataclass(frozen=True)
class ImportCounts:
    """What an import did (or, rolled back, would do): rows created, updated, unchanged, and
    any further lines its command would print (translated)."""

    created: int
    updated: int
    unchanged: int
    notes: tuple[str, ...] = ()


TEMPLATES: dict[str, Callable[[], ImportTemplate]] = {}
# The kinds the import page runs: the import service, called with the file's path and the user
# importing (None: the command line). It raises core.tables.TableImportError (one message per
# bad line) with nothing written.
IMPORTS: dict[str, Callable[..., ImportCounts]] = {}


def template_register(
    kind: str,
    build: Callable[[], ImportTemplate],
    run: Callable[..., ImportCounts] | None = None,
) -> None:
    """Add a kind of template: `build` is called when one is written, in the language active
    then (a registry of functions, so the texts are translated for the one who asks); `run`,
    if given, imports a file of that kind on the task force's import page."""
    TEMPLATES[kind] = build
    if run is not None:
        IMPORTS[kind] = run


def template_get(kind: str) -> ImportTemplate:
    """Raises KeyError for a kind no app registered."""
    return TEMPLATES[kind]()


def required() -> str:
    return pgettext("import template", "required")


def optional() -> str:
    return pgettext("import template", "optional")


# --- the workbook ----------------------------------------------------------------------------


def template_xlsx(template: ImportTemplate) -> bytes:
    workbook = Workbook()
    data = workbook.active
    data.title = template.title[:31]  # Excel refuses longer sheet names
    data.append([column.header for column in template.columns])
    data.append([_example(column) for column in template.columns])
    for index, column in enumerate(template.columns, 1):
        _format_column(data, index, column)
    data.freeze_panes = "A2"
    _notes_sheet(workbook, template)
    workbook.active = 0  # the data sheet is what the import reads and what opens first
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _example(column: TemplateColumn) -> Any:
    return str(column.example) if column.text and column.example != "" else column.example


def _format_column(sheet, index: int, column: TemplateColumn) -> None:
    letter = get_column_letter(index)
    header, example = sheet.cell(1, index), sheet.cell(2, index)
    header.font = Font(bold=True)
    if column.required == required():
        header.fill = REQUIRED_FILL
    example.font = EXAMPLE_FONT
    dimension = sheet.column_dimensions[letter]
    dimension.width = column.width
    if column.text:
        # The column's style is what Excel gives the cells typed into it later.
        dimension.number_format = TEXT
        example.number_format = TEXT
    elif isinstance(column.example, datetime.date):
        dimension.number_format = DATE
        example.number_format = DATE
    if column.choices:
        listed = ",".join(column.choices)
        validation = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True)
        # A hint when the cell is selected, no error: the import also takes variants (三格 for
        # 三格式), which offices paste.
        validation.prompt = _("Choose one of: %(values)s") % {"values": "、".join(column.choices)}
        validation.showInputMessage = True
        validation.showErrorMessage = False
        sheet.add_data_validation(validation)
        validation.add(f"{letter}2:{letter}{FORMATTED_ROWS + 1}")


def _notes_sheet(workbook: Workbook, template: ImportTemplate) -> None:
    sheet = workbook.create_sheet(pgettext("import template", "Notes"))
    sheet.append([template.title])
    sheet["A1"].font = Font(bold=True, size=14)
    for line in (
        template.intro,
        _(
            "Line 1 holds the column names the import looks for: keep them. Line 2 is an "
            "example: replace it with your rows. Shaded columns are required; the other "
            "columns may be left out."
        ),
        _(
            "Codes, numbers and phones are formatted as text so that Excel keeps every digit: "
            "paste values only (Paste Special, Values), so the text format stays."
        ),
        _("To import it: python manage.py %(command)s FILE") % {"command": template.command},
    ):
        sheet.append([line])
    sheet.append([])
    sheet.append(
        [
            pgettext("import template", "Column"),
            pgettext("import template", "Required"),
            pgettext("import template", "Format"),
            pgettext("import template", "Allowed values"),
            pgettext("import template", "Example"),
        ]
    )
    heading = sheet.max_row
    for cell in sheet[heading]:
        cell.font = Font(bold=True)
    for column in template.columns:
        sheet.append(
            [
                column.header,
                column.required,
                column.format,
                "、".join(column.choices),
                _example(column),
            ]
        )
        sheet.cell(sheet.max_row, 5).number_format = (
            DATE if isinstance(column.example, datetime.date) else TEXT
        )
    for letter, width in zip("ABCDE", (16, 16, 60, 30, 20), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=heading + 1):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


# --- villages' kinds ------------------------------------------------------------------------


def _header(aliases: dict[str, tuple[str, ...]], name: str) -> str:
    return aliases[name][0]


def divisions_template() -> ImportTemplate:
    h = imports.COLUMN_ALIASES
    return ImportTemplate(
        kind="divisions",
        title=_("Division list"),
        intro=_(
            "One row per county, town, administrative village or natural village, as in the "
            "statistics bureau's list (统计用区划代码). A division's parent must be in the file "
            "or imported before."
        ),
        command="import_divisions",
        columns=(
            TemplateColumn(
                _header(h, "code"),
                required(),
                _(
                    "12 digits; a natural village: its administrative village's 12 digits and "
                    "3 more"
                ),
                "370828102200",
                text=True,
            ),
            TemplateColumn(
                _header(h, "name"),
                required(),
                _(
                    "The full name: at most %(town)d characters for a county or a town, "
                    "%(village)d for a village"
                )
                % {"town": imports.NAME_LENGTH["town"], "village": imports.NAME_LENGTH["village"]},
                "胡集村民委员会",
                width=24,
            ),
            TemplateColumn(
                _header(h, "level"),
                required(),
                "",
                "村",
                choices=("市", "县", "乡镇", "村", "自然村"),
            ),
            TemplateColumn(
                _header(h, "parent_code"),
                required(),
                _(
                    "12 digits: a town's county, a village's town, a natural village's "
                    "administrative village; a county: its city's code, or blank; a city "
                    "(地级市): its province's code, or blank"
                ),
                "370828102000",
                text=True,
            ),
            TemplateColumn(
                _header(h, "urban_rural_code"),
                optional(),
                _("3 digits, as in the statistics bureau's list (111 to 220)"),
                "121",
                text=True,
            ),
            TemplateColumn(
                _header(h, "committee_type"),
                optional(),
                _("Blank: taken from the end of the name"),
                "村民委员会",
                choices=("村民委员会", "居民委员会"),
            ),
        ),
    )


def households_template() -> ImportTemplate:
    h = households.COLUMN_ALIASES
    village_needed = _("required, or both 乡镇 and 村")
    return ImportTemplate(
        kind="households",
        title=_("Household ledger"),
        intro=_(
            "One row per household, known by its village and household number: importing the "
            "ledger again updates the households it lists and changes nothing else."
        ),
        command="import_households",
        columns=(
            TemplateColumn(
                _header(h, "village_code"),
                village_needed,
                _("12 digits (15 for a natural village)"),
                "370828102200",
                text=True,
            ),
            TemplateColumn(
                _header(h, "town"), village_needed, _("The town's name: 胡集镇 or 胡集"), "胡集镇"
            ),
            TemplateColumn(
                _header(h, "village"),
                village_needed,
                _("The village's name within the town: 胡集村民委员会, 胡集村 or 胡集"),
                "胡集村",
            ),
            TemplateColumn(
                _header(h, "number"),
                required(),
                _("Unique within the village; at most %(max)d characters")
                % {"max": households.MAX_LENGTH["number"]},
                "001",
                text=True,
            ),
            TemplateColumn(_header(h, "head_name"), required(), "", "王建国"),
            TemplateColumn(
                _header(h, "id_number"),
                optional(),
                _("18 characters; only a masked form and a digest are kept"),
                "370828196501021231",
                text=True,
                width=22,
            ),
            TemplateColumn(
                _header(h, "phone"),
                optional(),
                _("An 11-digit mobile, or a landline with its area code: 0537-8721234"),
                "13805370001",
                text=True,
            ),
            TemplateColumn(_header(h, "address"), optional(), "", "胡集镇胡集村1号", width=24),
            TemplateColumn(
                _header(h, "toilet_type"),
                optional(),
                "",
                "三格式",
                choices=("三格式", "双瓮式", "水冲式", "沼气池式", "其他"),
            ),
            TemplateColumn(
                f"{_header(h, 'tank_volume_m3')}(m³)",
                optional(),
                _("Cubic metres, above 0 and below 100"),
                2,
            ),
            TemplateColumn(
                _header(h, "last_pumped_on"),
                optional(),
                _("A date: 2024-03-05 or 2024/3/5"),
                datetime.date(2024, 3, 5),
            ),
            TemplateColumn(
                _header(h, "problem"),
                optional(),
                _("Blank: none"),
                "",
                choices=("不能用", "不好用", "不愿用"),
            ),
        ),
    )


# The staff roster (花名册), imported by the people module (villages/people/roster.py), whose
# column definition this is: the header is found by these aliases (core.tables.TableLayout; the
# first is the template's), name and role are required, and a person is found by his user name
# or mobile number (a new person needs a user name).
STAFF_COLUMN_ALIASES = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系电话"),
    "username": ("用户名", "账号", "登录名"),
    "role": ("角色", "岗位"),
    "town_code": ("乡镇代码", "乡镇编码", "乡镇区划代码"),
    "village_code": ("村代码", "村编码", "村区划代码"),
}
STAFF_REQUIRED_COLUMNS = ("name", "role")
STAFF_CODE_COLUMNS = ("phone", "town_code", "village_code")  # parse_rows(codes=…)


def staff_roles() -> tuple[str, ...]:
    """The roles as the roster writes them: their labels in the active language."""
    return tuple(str(role.label) for role in COUNTY_ROLES)


def _role_naming(place: str) -> str:
    """The label of the role whose membership must name a `place` (town, village), by the rule
    villages.access keeps."""
    return next(
        str(role.label)
        for role, (_constraint, condition) in MEMBERSHIP_JURISDICTION.items()
        if (f"{place}__isnull", False) in condition.children
    )


def staff_template() -> ImportTemplate:
    h = STAFF_COLUMN_ALIASES
    town_role, village_role = _role_naming("town"), _role_naming("village")
    return ImportTemplate(
        kind="staff",
        title=_("Staff roster"),
        intro=_(
            "One row per person who logs in, with his role and where he works; a person with "
            "two roles or places has one row for each."
        ),
        command="import_staff",
        columns=(
            TemplateColumn(_header(h, "name"), required(), "", "张伟"),
            TemplateColumn(
                _header(h, "phone"),
                _("required, or %(column)s") % {"column": _header(h, "username")},
                _("An 11-digit mobile number, one person's own"),
                "13805370001",
                text=True,
            ),
            TemplateColumn(
                _header(h, "username"),
                _("required for a new person"),
                _(
                    "The login name: letters, digits and @.+-_; a person already stored may be "
                    "found by his mobile number instead"
                ),
                "zhangwei",
            ),
            TemplateColumn(
                _header(h, "role"), required(), "", town_role, choices=staff_roles(), width=18
            ),
            TemplateColumn(
                _header(h, "town_code"),
                _("required for a %(role)s") % {"role": town_role},
                _("12 digits: the town he works for; blank: the whole county"),
                "370828102000",
                text=True,
            ),
            TemplateColumn(
                _header(h, "village_code"),
                _("required for a %(role)s") % {"role": village_role},
                _("12 digits of an administrative village: the village he works for"),
                "",
                text=True,
            ),
        ),
    )


def divisions_run(path: Path, user=None) -> ImportCounts:
    """From the import page: only the importing task force's own county (a superuser's: any)."""
    granted = access.scope(user, "imports.run")
    counties = None if granted.everywhere else granted.county_codes
    summary = imports.divisions_import(path=path, counties=counties)
    return ImportCounts(
        created=sum(summary.created.values()),
        updated=sum(summary.updated.values()),
        unchanged=sum(summary.unchanged.values()),
    )


def households_run(path: Path, user=None) -> ImportCounts:
    summary = households.households_import(path=path, user=user)
    return ImportCounts(summary.created, summary.updated, summary.unchanged)


template_register("divisions", divisions_template, divisions_run)
template_register("households", households_template, households_run)
template_register("staff", staff_template)

"""Checklist templates (检查评分表) kept in Excel: import as a new version, export, copy.

A county keeps its scoring table as a spreadsheet: a row per item with its code, dimension,
points, deduction per occurrence, cap, and whether photos are required or a hit is a veto
(一票否决). It is read like the other registers (core.tables): headers as offices
write them, a title row above the header allowed, every row checked before anything is
written, each error naming its line and column.

Versions are never edited once written: an import always makes a new version (the name's
highest + 1), so rounds that froze an earlier version keep scoring by it. Importing the same
content as the latest version makes nothing and says so. The total need not be 100 (counties
differ), but it must be above 0; the summary reports it.

The default table (fixtures/checklist_default.csv, `manage.py load_default_checklist`) is an
example modelled on typical county 村庄清洁行动 / 农村人居环境整治 inspection tables, not an
official document: a county replaces it with its own by importing a new version.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.styles import Font

from core.tables import (
    Problems,
    RowError,
    Table,
    TableImportError,
    TableLayout,
    cell_plain,
    cell_text,
    find_header,
    in_column,
    label_choice,
    parse_rows,
    quantity,
    read_table,
)
from core.xlsx import safe_row
from inspections.models import ChecklistItem, ChecklistTemplate, Dimension
from inspections.sites.imports import check_unique_codes
from villages.models import County

DEFAULT_CHECKLIST = settings.BASE_DIR / "inspections" / "fixtures" / "checklist_default.csv"
DEFAULT_NAME = "村村到检查表"
# The first alias is the header an export writes and messages show.
COLUMN_ALIASES = {
    "code": ("编号", "项目编号", "代码"),
    "dimension": ("维度", "类别", "检查类别", "项目类别", "dimension"),
    "title": ("检查内容", "检查项目", "内容", "扣分事项", "item"),
    "max_points": ("分值", "标准分", "满分", "points"),
    "deduction": ("每处扣分", "扣分标准", "扣分", "deduction"),
    "cap": ("扣分上限", "最多扣分", "最高扣分"),
    "photos_required": ("需照片", "需拍照", "照片", "photos"),
    "veto": ("一票否决", "否决项"),
}
COLUMNS = tuple(COLUMN_ALIASES)
REQUIRED_COLUMNS = ("code", "dimension", "title", "max_points", "deduction")
DIMENSION_NAMES = {
    Dimension.TOILETS: "厕所革命",
    Dimension.GARBAGE: "垃圾治理",
    Dimension.SEWAGE: "污水与黑臭水体",
    Dimension.APPEARANCE: "村容村貌",
    Dimension.MAINTENANCE: "长效管护",
}
# As the label parser sees them: NFKC, lower case, without spaces and ·-_/.
DIMENSIONS = {
    **{name: value for value, name in DIMENSION_NAMES.items()},
    "厕所": Dimension.TOILETS,
    "改厕": Dimension.TOILETS,
    "农村改厕": Dimension.TOILETS,
    "垃圾": Dimension.GARBAGE,
    "生活垃圾": Dimension.GARBAGE,
    "生活垃圾治理": Dimension.GARBAGE,
    "污水": Dimension.SEWAGE,
    "生活污水": Dimension.SEWAGE,
    "污水治理": Dimension.SEWAGE,
    "黑臭水体": Dimension.SEWAGE,
    "生活污水治理": Dimension.SEWAGE,
    "村容": Dimension.APPEARANCE,
    "村庄清洁": Dimension.APPEARANCE,
    "管护": Dimension.MAINTENANCE,
    "长效管护机制": Dimension.MAINTENANCE,
    **{choice.value: choice for choice in Dimension},
}
YES, NO = "是", "否"
YES_NO = {
    **dict.fromkeys((YES, "需要", "y", "yes", "true", "1", "√", "✓", "✔"), True),
    **dict.fromkeys((NO, "不需要", "n", "no", "false", "0", "×", "✗"), False),
}
# 2.5 or 2.5分; NFKC has made full-width digits ASCII.
POINTS = re.compile(r"([0-9]+(?:\.[0-9]+)?)分?")
CENT = Decimal("0.01")
MAX_POINTS = Decimal(1000)
MAX_LENGTH = {
    name: ChecklistItem._meta.get_field(name).max_length for name in ("code", "title")
} | {"name": ChecklistTemplate._meta.get_field("name").max_length}
CONTENT_FIELDS = COLUMNS  # the item fields a file sets, in its column order


class ChecklistImportError(TableImportError):
    """Rows of a checklist that cannot be imported."""


TABLE = TableLayout(COLUMN_ALIASES, REQUIRED_COLUMNS, ChecklistImportError)


@dataclass
class ItemRow:
    line: int
    code: str
    values: dict[str, Any] = field(default_factory=dict)

    def content(self) -> tuple:
        return tuple(self.values[name] for name in CONTENT_FIELDS)


@dataclass
class ChecklistImportSummary:
    template: ChecklistTemplate  # the new version, or the latest one if nothing changed
    created: bool
    items: int
    total: Decimal
    points_by_dimension: dict[str, Decimal]

    @property
    def changed_anything(self) -> bool:
        return self.created


def checklist_import(
    *, path: Path, name: str, county: County, note: str = ""
) -> ChecklistImportSummary:
    """A new version of `county`'s checklist `name` from an .xlsx or CSV file, unless its latest
    version has the same items already. Raises ChecklistImportError, with nothing written, if
    any row is bad."""
    name = _checked_name(name)
    problems = Problems(error=ChecklistImportError)
    rows, headers = parse_checklist(read_table(path, error=ChecklistImportError), problems)
    check_unique_codes(rows, headers, problems)
    problems.raise_if_any()
    with transaction.atomic():
        # Ordered by -version.
        latest = ChecklistTemplate.objects.filter(county=county, name=name).first()
        if latest is not None and template_content(latest) == [row.content() for row in rows]:
            return _summary(latest, rows, created=False)
        template = _create_version(county, name, note, [row.values for row in rows])
    return _summary(template, rows, created=True)


def checklist_copy(*, template: ChecklistTemplate) -> ChecklistTemplate:
    """The next version of `template`'s name with a copy of its items, to be edited while the
    rounds that use `template` keep it unchanged."""
    items = template.items.values(*CONTENT_FIELDS)
    note = _("Copy of version %(version)d.") % {"version": template.version}
    with transaction.atomic():
        return _create_version(template.county, template.name, note, list(items))


def template_content(template: ChecklistTemplate) -> list[tuple]:
    """Its items in order, as comparable tuples (not their order numbers: an exported and
    re-imported table numbers them afresh)."""
    return list(template.items.order_by("order", "code").values_list(*CONTENT_FIELDS))


# --- reading -------------------------------------------------------------------------------


def parse_checklist(table: Table, problems: Problems) -> tuple[list[ItemRow], dict[str, str]]:
    """The item rows below the header, parsed; each column the file carries, with its header as
    written there (what messages call it)."""
    header_line, columns = find_header(table, TABLE)
    cells = next(cells for line, cells in table if line == header_line)
    headers = {name: cell_text(cells[i]) for i, name in columns.items()}
    rows = parse_rows(
        table,
        header_line,
        columns,
        problems,
        lambda n, row: _parse_row(n, row, headers),
        codes=("code",),
    )
    if not rows and not problems.items:
        raise ChecklistImportError(
            [_("Line %(line)d: no checklist items below the header.") % {"line": header_line}]
        )
    if rows and not problems.items and sum(row.values["max_points"] for row in rows) <= 0:
        message = _("the points of all items add up to 0.")
        problems.add(header_line, in_column(headers["max_points"], message))
    return rows, headers


def _parse_row(line: int, cells: dict[str, Any], headers: dict[str, str]) -> ItemRow:
    values = {}
    for column in COLUMNS:
        try:
            values[column] = CELL_PARSERS[column](cells.get(column))
        except RowError as exc:
            raise RowError(in_column(headers[column], str(exc))) from None
    if values["cap"] is None:
        values["cap"] = values["max_points"]
    _check_points(values, headers)
    return ItemRow(line=line, code=values["code"], values=values)


def _check_points(values: dict[str, Any], headers: dict[str, str]) -> None:
    numbers = {name: points_text(values[name]) for name in ("max_points", "deduction", "cap")}
    if values["cap"] > values["max_points"]:  # only if the file has the cap column
        message = _("the cap %(cap)s is above the item's %(max_points)s points.") % numbers
        raise RowError(in_column(headers["cap"], message))
    if values["deduction"] > values["cap"]:
        message = _("%(deduction)s per occurrence is above the cap of %(cap)s.") % numbers
        raise RowError(in_column(headers["deduction"], message))


def _text(name: str, plain: bool = False):
    def parse(cell: Any) -> str:
        text = cell_plain(cell) if plain else cell_text(cell)
        if not text:
            raise RowError(_("required, but empty."))
        if len(text) > MAX_LENGTH[name]:
            raise RowError(_("longer than %(max)d characters.") % {"max": MAX_LENGTH[name]})
        return text

    return parse


def _points(*, optional: bool = False):
    """A parser of points (2.5, "2.5分"), or None for an empty optional cell."""

    def parse(cell: Any) -> Decimal | None:
        text = cell_plain(cell)
        if not text and optional:
            return None
        points = quantity(text, POINTS, CENT)
        if points is None or points > MAX_POINTS:
            raise RowError(
                _("“%(value)s” is not a number of points (0 to %(max)d).")
                % {"value": text, "max": MAX_POINTS}
            )
        return points

    return parse


def _yes_no(default: bool):
    return label_choice({**YES_NO, "": default}, gettext_noop("“%(value)s” is neither 是 nor 否."))


CELL_PARSERS = {
    "code": _text("code", plain=True),
    "dimension": label_choice(
        DIMENSIONS,
        gettext_noop(
            "unknown dimension “%(value)s” (厕所革命, 垃圾治理, 污水与黑臭水体, 村容村貌 or "
            "长效管护)."
        ),
    ),
    "title": _text("title"),
    "max_points": _points(),
    "deduction": _points(),
    "cap": _points(optional=True),  # empty: the item's points
    "photos_required": _yes_no(True),
    "veto": _yes_no(False),
}


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_LENGTH["name"]:
        message = _("A checklist needs a name of 1 to %(max)d characters.")
        raise ChecklistImportError([message % {"max": MAX_LENGTH["name"]}])
    return name


# --- writing -------------------------------------------------------------------------------


def _create_version(county: County, name: str, note: str, items: list[dict]) -> ChecklistTemplate:
    """Version max + 1 of the county's `name` (called inside a transaction). Two imports of one
    name at the same moment would pick the same number: the unique constraint lets one win."""
    versions = ChecklistTemplate.objects.filter(county=county, name=name)
    latest = versions.aggregate(v=Max("version"))["v"] or 0
    try:
        with transaction.atomic():
            template = ChecklistTemplate.objects.create(
                county=county, name=name, version=latest + 1, note=note
            )
    except IntegrityError:
        raise ChecklistImportError(
            [
                _("Another version of “%(name)s” was saved at the same moment; please retry.")
                % {"name": name}
            ]
        ) from None
    ChecklistItem.objects.bulk_create(
        ChecklistItem(template=template, order=order, **values)
        for order, values in enumerate(items, 1)
    )
    return template


def _summary(template: ChecklistTemplate, rows: list[ItemRow], created: bool):
    by_dimension = defaultdict(Decimal)
    for row in rows:
        by_dimension[row.values["dimension"]] += row.values["max_points"]
    return ChecklistImportSummary(
        template=template,
        created=created,
        items=len(rows),
        total=sum(by_dimension.values(), Decimal(0)),
        points_by_dimension=dict(by_dimension),
    )


def report_lines(summary: ChecklistImportSummary) -> list[str]:
    """What an import did, for commands and admin messages."""
    values = {
        "checklist": summary.template,
        "items": summary.items,
        "total": points_text(summary.total),
        "dimensions": ", ".join(
            f"{DIMENSION_NAMES[d]} {points_text(points)}"
            for d, points in sorted(summary.points_by_dimension.items(), key=_dimension_order)
        ),
    }
    if summary.created:
        line = _("New version %(checklist)s: %(items)d items, %(total)s points (%(dimensions)s).")
    else:
        line = _(
            "The latest version, %(checklist)s, already has these %(items)d items, %(total)s "
            "points (%(dimensions)s)."
        )
    return [line % values]


def points_text(points: Decimal) -> str:
    """2.5, 100: without trailing zeros or an exponent."""
    return f"{points.normalize():f}"


def _dimension_order(entry: tuple[str, Decimal]) -> int:
    return list(DIMENSION_NAMES).index(entry[0])


# --- export --------------------------------------------------------------------------------


def checklist_export(*, template: ChecklistTemplate) -> bytes:
    """An .xlsx of `template`: a title row, the header, a row per item; importable back."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"v{template.version}"
    sheet.append([str(template)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([COLUMN_ALIASES[column][0] for column in COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for item in template.items.order_by("order", "code"):
        sheet.append(safe_row(sheet, _export_row(item)))
    for letter, width in zip("ABCDEFGH", (8, 16, 60, 8, 10, 10, 8, 10), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _export_row(item: ChecklistItem) -> list:
    return [
        item.code,
        DIMENSION_NAMES[item.dimension],
        item.title,
        item.max_points,
        item.deduction,
        item.cap,
        YES if item.photos_required else NO,
        YES if item.veto else NO,
    ]

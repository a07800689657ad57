"""Import of the statistics-bureau division list (统计用区划代码) into County / Town / Village.

The list is read like every register (core.tables): an .xlsx or a CSV (UTF-8, GB18030, with or
without a BOM), the header found by the names offices give its columns, in Chinese or English.
Every row is checked before anything is written; a bad row stops the import with its line
number and nothing is half-written. Writes are upserts keyed on the code, a few statements per
level however long the list, so a second run of the same file changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.tables import (
    MAX_REPORTED_ERRORS,
    Problems,
    RowError,
    Table,
    TableImportError,
    TableLayout,
    cell_text,
    find_header,
    parse_rows,
    read_table,
    write_upserts,
)
from villages.models import City, County, Town, Village, city_code_of

# Headers as the statistics list and county offices write them (compared after normalising:
# no spaces, no "*", no note in brackets, lower case); the internal names are accepted too. The
# first alias is the one messages and the import template show.
COLUMN_ALIASES = {
    "code": ("区划代码", "统计用区划代码", "代码", "行政区划代码", "区划编码", "编码"),
    "name": ("名称", "区划名称", "单位名称"),
    "level": ("级别", "层级", "区划级别"),
    "parent_code": ("上级代码", "上级区划代码", "父级代码", "上级编码"),
    "urban_rural_code": ("城乡分类代码", "城乡分类", "城乡属性代码"),
    # The published list of 2023 leaves the urban-rural code blank where 2016's still holds.
    "urban_rural_code_2016": ("urban_rural_code_2016_if_same_code_and_name",),
    "committee_type": ("类型", "委员会类型", "村居类型"),
}
REQUIRED_COLUMNS = ("code", "name", "level", "parent_code")
CODE_COLUMNS = ("code", "parent_code")
LEVEL_ALIASES = {
    # The city (地级市; 地区, 自治州 and 盟 are cities' peers): the row above the counties.
    "city": "city",
    "prefecture": "city",
    "市": "city",
    "地级市": "city",
    "地级": "city",
    "市级": "city",
    "地区": "city",
    "自治州": "city",
    "盟": "city",
    "county": "county",
    "县": "county",
    "区": "county",
    "县级": "county",
    "town": "town",
    "乡镇": "town",
    "镇": "town",
    "乡": "town",
    "街道": "town",
    "乡级": "town",
    "village": "village",
    "村": "village",
    "村级": "village",
    "行政村": "village",
    "社区": "village",
    "村(社区)": "village",
    "natural_village": "natural",
    "natural": "natural",
    "自然村": "natural",
}
COMMITTEE_ALIASES = {
    "村民委员会": Village.Committee.VILLAGERS,
    "村委会": Village.Committee.VILLAGERS,
    "居民委员会": Village.Committee.RESIDENTS,
    "居委会": Village.Committee.RESIDENTS,
    "villagers": Village.Committee.VILLAGERS,
    "residents": Village.Committee.RESIDENTS,
}
LEVELS = ("city", "county", "town", "village", "natural")
# [0-9], not \d: \d also matches full-width "３７０８…" from Chinese input methods, which would be
# stored as a code no other system (or the model's own validator) recognises.
CODE = re.compile(r"[0-9]{12}")
NATURAL_CODE = re.compile(r"[0-9]{15}")
CITY_CODE = re.compile(r"[0-9]{4}0{8}")
URBAN_RURAL_CODE = re.compile(r"[0-9]{3}")
# Statistical codes nest: a town's code starts with its county's first 6 digits, a village's
# with its town's first 9, a natural village's with its administrative village's whole code.
# A parent_code that disagrees is a typo that would file the division under the wrong town, and
# the town is what a town officer's scope is cut by. A county's parent, when given, is its city
# (checked whole: city_code_of), whose row the list need not carry.
PARENT_PREFIX = {"town": 6, "village": 9, "natural": 12}
# A city's and a county's parents may be blank (the province is never imported, the city's
# row need not be).
OPTIONAL_PARENT = ("city", "county")
# The columns' own limits: PostgreSQL would refuse a longer name half-way through the writes
# (an error without a line number), SQLite would silently keep it.
NAME_LENGTH = {
    "city": City._meta.get_field("name").max_length,
    "county": County._meta.get_field("name").max_length,
    "town": Town._meta.get_field("name").max_length,
    "village": Village._meta.get_field("name").max_length,
    "natural": Village._meta.get_field("name").max_length,
}


class DivisionImportError(TableImportError):
    """Rows of a division list that cannot be imported."""


# The header is the first row with a code and a name column; the other required columns are
# then named as missing on that line.
DIVISION_LIST = TableLayout(COLUMN_ALIASES, ("code", "name"), DivisionImportError)


@dataclass(frozen=True)
class DivisionRow:
    line: int
    code: str
    name: str
    level: str
    parent_code: str
    urban_rural_code: str = ""
    committee_type: str = ""


@dataclass
class ImportSummary:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    missing_from_file: int = 0
    # The codes of the counties the file lists or places its towns in.
    counties: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))


def parse_divisions(table: Table) -> list[DivisionRow]:
    """The rows below the header, parsed; raises DivisionImportError naming every bad line."""
    header_line, columns = find_header(table, DIVISION_LIST)
    missing = [name for name in REQUIRED_COLUMNS if name not in columns.values()]
    if missing:
        raise DivisionImportError(
            [
                _("Line %(line)d: missing column(s) %(columns)s.")
                % {"line": header_line, "columns": ", ".join(map(column_title, missing))}
            ]
        )
    problems = Problems(error=DivisionImportError)
    rows = parse_rows(table, header_line, columns, problems, _parse_row, codes=CODE_COLUMNS)
    problems.raise_if_any()
    return rows


def column_title(name: str) -> str:
    """上级代码 (parent_code): the header a template writes, and the English one."""
    return f"{COLUMN_ALIASES[name][0]} ({name})"


def _parse_row(line: int, cells: dict[str, Any]) -> DivisionRow:
    row = {name: cell_text(cell) for name, cell in cells.items()}
    level_text = row.get("level", "")
    # NFKC: 村（社区） typed with full-width brackets.
    level = LEVEL_ALIASES.get(unicodedata.normalize("NFKC", level_text).replace(" ", "").lower())
    if level is None:
        raise RowError(_("unknown level “%(level)s”.") % {"level": level_text})
    code, name, parent = row.get("code", ""), row.get("name", ""), row.get("parent_code", "")
    _check_code(level, code)
    if not name:
        raise RowError(_("the name is empty."))
    if len(name) > NAME_LENGTH[level]:
        raise RowError(
            _("the name is longer than %(max)d characters.") % {"max": NAME_LENGTH[level]}
        )
    # A county's parent is its city, a city's its province: blank or a code.
    if (level not in OPTIONAL_PARENT or parent) and not CODE.fullmatch(parent):
        raise RowError(
            _("malformed parent code “%(code)s” (12 digits expected).") % {"code": parent}
        )
    if level == "county" and parent and parent != city_code_of(code):
        raise RowError(
            _("a county's parent is its city, %(city)s, not %(parent)s.")
            % {"city": city_code_of(code), "parent": parent}
        )
    if level in PARENT_PREFIX and not code.startswith(parent[: PARENT_PREFIX[level]]):
        raise RowError(
            _("code %(code)s does not lie under its parent %(parent)s.")
            % {"code": code, "parent": parent}
        )
    urban_rural = row.get("urban_rural_code") or row.get("urban_rural_code_2016", "")
    if urban_rural and not URBAN_RURAL_CODE.fullmatch(urban_rural):
        raise RowError(
            _("malformed urban-rural code “%(code)s” (3 digits).") % {"code": urban_rural}
        )
    committee = row.get("committee_type", "")
    committee_type = COMMITTEE_ALIASES.get(committee) or _committee_from_name(name)
    if committee and committee not in COMMITTEE_ALIASES:
        raise RowError(_("unknown committee type “%(type)s”.") % {"type": committee})
    return DivisionRow(line, code, name, level, parent, urban_rural, committee_type)


def _check_code(level: str, code: str) -> None:
    if level == "city" and CODE.fullmatch(code) and not CITY_CODE.fullmatch(code):
        raise RowError(
            _("malformed city code “%(code)s” (4 digits of the city, then 8 zeros).")
            % {"code": code}
        )
    if level == "natural":
        # 自然村 have no statistical code: their administrative village's code + 3 digits.
        if not NATURAL_CODE.fullmatch(code):
            raise RowError(
                _("malformed natural-village code “%(code)s” (15 digits expected).")
                % {"code": code}
            )
    elif not CODE.fullmatch(code):
        raise RowError(_("malformed code “%(code)s” (12 digits expected).") % {"code": code})


def _committee_from_name(name: str) -> str:
    if name.endswith(("居民委员会", "居委会")):
        return Village.Committee.RESIDENTS
    if name.endswith(("村民委员会", "村委会")):
        return Village.Committee.VILLAGERS
    return ""


def check_within(rows: list[DivisionRow], counties: frozenset[str]) -> None:
    """Every row lies in one of `counties`: a county row is one of them, any other row's code
    starts with one's 6 digits (codes nest: PARENT_PREFIX). A city row is allowed when it is the
    city of one of them: the statistics list of a county begins with its city's row."""
    prefixes = {code[:6] for code in counties}
    cities = {code[:4] + "0" * (len(code) - 4) for code in counties}

    def outside(row: DivisionRow) -> bool:
        if row.level == "city":
            return row.code not in cities
        if row.level == "county":
            return row.code not in counties
        return row.code[:6] not in prefixes

    errors = [
        _("Line %(line)d: %(code)s %(name)s lies outside your county.")
        % {"line": row.line, "code": row.code, "name": row.name}
        for row in rows
        if outside(row)
    ]
    if errors:
        raise DivisionImportError(errors[:MAX_REPORTED_ERRORS])


def check_hierarchy(rows: list[DivisionRow]) -> None:
    """Each code once; each parent a known division of the level above (in the file or already
    in the database)."""
    errors = []
    seen: dict[str, int] = {}
    for row in rows:
        if row.code in seen:
            errors.append(
                _("Line %(line)d: code %(code)s already appears on line %(first)d.")
                % {"line": row.line, "code": row.code, "first": seen[row.code]}
            )
        seen.setdefault(row.code, row.line)
    by_level = {
        level: {r.code for r in rows if r.level == level} for level in ("county", "town", "village")
    }
    known = {
        "town": by_level["county"] | set(County.objects.values_list("code", flat=True)),
        "village": by_level["town"] | set(Town.objects.values_list("code", flat=True)),
        "natural": by_level["village"]
        | set(Village.objects.administrative().values_list("code", flat=True)),
    }
    parent_names = {
        "town": _("county"),
        "village": _("town"),
        "natural": _("administrative village"),
    }
    for row in rows:
        if row.level not in OPTIONAL_PARENT and row.parent_code not in known[row.level]:
            errors.append(
                _("Line %(line)d: unknown parent %(parent)s (no such %(kind)s).")
                % {"line": row.line, "parent": row.parent_code, "kind": parent_names[row.level]}
            )
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    errors += _level_conflicts(rows)
    if errors:
        raise DivisionImportError(errors[:MAX_REPORTED_ERRORS])


def _level_conflicts(rows: list[DivisionRow]) -> list[str]:
    """A code already stored at another level would silently create a second division."""
    stored = {
        "city": set(City.objects.values_list("code", flat=True)),
        "county": set(County.objects.values_list("code", flat=True)),
        "town": set(Town.objects.values_list("code", flat=True)),
        "village": set(Village.objects.values_list("code", flat=True)),
    }
    stored["natural"] = stored["village"]
    table = {level: level for level in LEVELS} | {"natural": "village"}
    errors = []
    for row in rows:
        for level, codes in stored.items():
            if table[level] != table[row.level] and row.code in codes:
                errors.append(
                    _("Line %(line)d: code %(code)s is already stored as another level.")
                    % {"line": row.line, "code": row.code}
                )
                break
    return errors


def divisions_import(
    *, path: Path, progress=None, counties: frozenset[str] | None = None
) -> ImportSummary:
    """`progress`, if given, is a tqdm-like bar: its total is set to the row count. `counties`
    (codes), if given, are the only counties the file may touch: a county's task force imports
    its own county's list from the import page, never another county's (the tenant); None (the
    command line, a superuser) imports any county, new ones included."""
    rows = parse_divisions(read_table(path, error=DivisionImportError))
    if counties is not None:
        check_within(rows, counties)
    check_hierarchy(rows)
    if progress is not None:
        progress.total = len(rows)
        progress.refresh()
    summary = ImportSummary()
    level_rows = {level: [r for r in rows if r.level == level] for level in LEVELS}
    with transaction.atomic():
        _upsert(City, _city_fields, level_rows["city"], summary, progress)
        _upsert(County, _county_fields, level_rows["county"], summary, progress)
        _upsert(Town, _town_fields, level_rows["town"], summary, progress)
        _upsert(Village, _village_fields, level_rows["village"], summary, progress)
        naturals = level_rows["natural"]
        if naturals:
            _upsert(Village, _natural_fields_factory(naturals), naturals, summary, progress)
    summary.missing_from_file = _count_missing(level_rows)
    towns_in = {row.parent_code for row in level_rows["town"]}
    summary.counties = sorted({row.code for row in level_rows["county"]} | towns_in)
    return summary


def _count_missing(level_rows: dict[str, list[DivisionRow]]) -> int:
    """Divisions merged away stay (tickets refer to them); count the stored villages of the
    file's counties that the file no longer lists. Only levels the file carries count: the
    statistics list never has natural villages, so they are not "missing" from it."""
    levels = []
    if level_rows["village"]:
        levels.append(Village.Level.ADMINISTRATIVE)
    if level_rows["natural"]:
        levels.append(Village.Level.NATURAL)
    listed = {r.code for r in level_rows["village"]} | {r.code for r in level_rows["natural"]}
    stored = Village.objects.filter(
        town__county__in=[r.code for r in level_rows["county"]], level__in=levels
    ).values_list("code", flat=True)
    return sum(1 for code in stored if code not in listed)


def _city_fields(row: DivisionRow) -> dict:
    return {"name": row.name}


def _county_fields(row: DivisionRow) -> dict:
    # The city is told by the code when the list leaves the parent blank (villages.models).
    return {"name": row.name, "parent_code": row.parent_code or city_code_of(row.code)}


def _town_fields(row: DivisionRow) -> dict:
    return {"name": row.name, "county_id": row.parent_code, "kind": Town.kind_from_name(row.name)}


def _village_fields(row: DivisionRow) -> dict:
    return {
        "name": row.name,
        "level": Village.Level.ADMINISTRATIVE,
        "parent_id": None,
        "town_id": row.parent_code,
        "committee_type": row.committee_type,
        "urban_rural_code": row.urban_rural_code,
    }


def _natural_fields_factory(rows: list[DivisionRow]) -> Callable[[DivisionRow], dict]:
    """Natural villages live in their administrative village's town (one query for all)."""
    town_of = dict(
        Village.objects.filter(code__in={r.parent_code for r in rows}).values_list(
            "code", "town_id"
        )
    )

    def fields(row: DivisionRow) -> dict:
        return {
            **_village_fields(row),
            "level": Village.Level.NATURAL,
            "parent_id": row.parent_code,
            "town_id": town_of[row.parent_code],
        }

    return fields


def _upsert(model, fields_of, rows: list[DivisionRow], summary: ImportSummary, progress) -> None:
    label = rows[0].level if rows else ""
    if not rows:
        return
    names = list(fields_of(rows[0]).keys())
    stored = {
        obj["code"]: obj
        for obj in model.objects.filter(code__in=[r.code for r in rows]).values("code", *names)
    }
    changed = []
    for row in rows:
        values = fields_of(row)
        current = stored.get(row.code)
        if current is None:
            summary.created[label] += 1
        elif all(current[name] == values[name] for name in names):
            summary.unchanged[label] += 1
            continue
        else:
            summary.updated[label] += 1
        changed.append(model(code=row.code, **values))
    write_upserts(
        changed,
        unique_fields=["code"],
        update_fields=names,
        progress=progress,
        unchanged=len(rows) - len(changed),
    )

"""Import of the household ledger (农户台账) that towns keep in Excel into Household.

Each row names its village by code, or by town + village name as the town office writes them,
and its household number (户号); (village, number) is the key. Every row is checked before
anything is written; bad rows stop the import with their line numbers (the Excel row number)
and nothing is half-written. Writes are upserts in bulk, so a second run of the same file
changes nothing and says so.

The ID number is validated, then only its masked form and keyed digest are kept; the full
number never reaches the database.

Reading the file (xlsx or CSV, the header by its aliases) is core.tables'; this module says what
a ledger row means.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.tables import (
    Problems,
    RowError,
    Table,
    TableImportError,
    TableLayout,
    cell_plain,
    cell_text,
    find_header,
    parse_rows,
    quantity,
    read_table,
    write_upserts,
)
from villages.models import Household, Town, Village, id_number_digest, mask_id_number

# Headers as county offices write them (after normalising: no spaces, no "*" marking required
# columns, no unit in brackets), with the English names accepted too.
COLUMN_ALIASES = {
    "village_code": ("村代码", "村庄代码", "行政村代码", "村级代码", "区划代码", "村编码"),
    "town": ("乡镇", "乡镇街道", "乡镇(街道)", "镇街", "镇(街道)", "乡镇名称"),
    "village": ("村", "村名", "村庄", "行政村", "村庄名称", "村名称", "所在村"),
    "number": ("户号", "户编号", "农户编号"),
    "head_name": ("户主姓名", "户主", "姓名"),
    "id_number": ("身份证号", "身份证号码", "户主身份证号", "户主身份证号码"),
    "phone": ("联系电话", "电话", "手机号", "手机号码", "联系方式"),
    "address": ("地址", "家庭住址", "住址", "详细地址"),
    "toilet_type": ("厕所类型", "改厕类型", "户厕类型", "改厕模式"),
    "tank_volume_m3": ("化粪池容积", "化粪池容量", "容积"),
    "last_pumped_on": ("上次清掏日期", "最近清掏日期", "清掏日期", "上次抽运日期"),
    "problem": ("问题", "存在问题", "问题类型"),
}
# Columns that set Household fields; a column the file does not have leaves its fields as
# stored, so a ledger without ID numbers does not wipe the ones imported earlier.
FIELDS_OF_COLUMN = {
    "head_name": ("head_name",),
    "id_number": ("id_number_masked", "id_number_digest"),
    "phone": ("phone",),
    "address": ("address",),
    "toilet_type": ("toilet_type",),
    "tank_volume_m3": ("tank_volume_m3",),
    "last_pumped_on": ("last_pumped_on",),
    "problem": ("problem",),
}
Toilet = Household.ToiletType
TOILET_TYPES = {
    "三格式": Toilet.THREE_COMPARTMENT,
    "三格": Toilet.THREE_COMPARTMENT,
    "三格化粪池": Toilet.THREE_COMPARTMENT,
    "三格化粪池式": Toilet.THREE_COMPARTMENT,
    "三格式化粪池": Toilet.THREE_COMPARTMENT,
    "双瓮式": Toilet.DOUBLE_URN,
    "双瓮": Toilet.DOUBLE_URN,
    "双瓮漏斗式": Toilet.DOUBLE_URN,
    "水冲式": Toilet.FLUSH,
    "完整下水道水冲式": Toilet.FLUSH,
    "下水道水冲式": Toilet.FLUSH,
    "沼气池式": Toilet.BIOGAS,
    "沼气池": Toilet.BIOGAS,
    "三联通沼气池式": Toilet.BIOGAS,
    # National types the model has no choice for yet: kept as "other" rather than refused.
    "粪尿分集式": Toilet.OTHER,
    "双坑交替式": Toilet.OTHER,
    "其他": Toilet.OTHER,
    "其它": Toilet.OTHER,
    **{choice.value: choice for choice in Toilet},
}
Problem = Household.Problem
PROBLEMS = {
    "": Problem.NONE,
    "无": Problem.NONE,
    "正常": Problem.NONE,
    "不能用": Problem.UNUSABLE,
    "不好用": Problem.POOR,
    "不愿用": Problem.UNWILLING,
    **{choice.value: choice for choice in Problem if choice.value},
}
REQUIRED_COLUMNS = ("number", "head_name")
# Digits Excel would show in scientific notation (and, past 15, cut): refused column-wide.
CODE_COLUMNS = ("village_code", "id_number")
MAX_LENGTH = {
    name: Household._meta.get_field(name).max_length
    for name in ("number", "head_name", "address", "phone")
}
# [0-9], not \d: \d also matches other scripts' digits; NFKC has already turned full-width
# digits from Chinese input methods into ASCII ones.
VILLAGE_CODE = re.compile(r"[0-9]{12}(?:[0-9]{3})?")
ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_DIGITS = "10X98765432"
MOBILE = re.compile(r"1[3-9][0-9]{9}")
# Area codes: 010 and 02x have 3 digits, all others 4 (the national numbering plan).
LANDLINE = re.compile(r"(0[12][0-9]|0[3-9][0-9]{2})([2-9][0-9]{6,7})")
PHONE_SEPARATORS = re.compile(r"[\s\-—–()]")
# 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日; a CSV saved from date cells may add a time.
DATE = re.compile(
    r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?(?:\s+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?"
)
VOLUME = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:m³|m3|立方米|立方|方)?", re.IGNORECASE)
MAX_VOLUME = Decimal("100")
CENT = Decimal("0.01")


class HouseholdImportError(TableImportError):
    """Rows of a household ledger that cannot be imported."""


LEDGER = TableLayout(COLUMN_ALIASES, REQUIRED_COLUMNS, HouseholdImportError)


@dataclass
class HouseholdRow:
    line: int
    number: str
    village_code: str = ""
    town_name: str = ""
    village_name: str = ""
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class HouseholdImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    villages: int = 0
    missing_from_file: int = 0

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated)


# --- reading -------------------------------------------------------------------------------


def households_import(*, path: Path, progress=None, user=None) -> HouseholdImportSummary:
    """Raises HouseholdImportError, with nothing written, if any row is bad. `progress`, if
    given, is a tqdm-like bar: its total is set to the row count. With `user` (the import
    page), a row's village must lie where he imports (his county); the command line (None)
    answers to whoever runs the server and finds villages everywhere."""
    problems = Problems(error=HouseholdImportError)
    rows, columns = parse_ledger(read_table(path, error=HouseholdImportError), problems)
    resolve_villages(rows, problems, user=user)
    check_duplicates(rows, problems)
    problems.raise_if_any()
    if progress is not None:
        progress.total = len(rows)
        progress.refresh()
    return _upsert(rows, columns, progress)


def parse_ledger(table: Table, problems: Problems) -> tuple[list[HouseholdRow], set[str]]:
    """The rows below the header, parsed; the set of columns the file carries."""
    header_line, columns = find_header(table, LEDGER)
    _check_village_columns(header_line, columns)
    present = set(columns.values())
    rows = parse_rows(
        table,
        header_line,
        columns,
        problems,
        lambda line, cells: _parse_row(line, cells, present),
        codes=CODE_COLUMNS,
    )
    if not rows and not problems.items:
        raise HouseholdImportError(
            [_("Line %(line)d: no households below the header.") % {"line": header_line}]
        )
    return rows, present


def _check_village_columns(line: int, columns: dict[int, str]) -> None:
    names = list(columns.values())
    if "village_code" not in names and not {"town", "village"} <= set(names):
        raise HouseholdImportError(
            [
                _("Line %(line)d: the village is needed: a column 村代码, or columns 乡镇 and 村.")
                % {"line": line}
            ]
        )


# --- one row -------------------------------------------------------------------------------


def _parse_row(line: int, cells: dict[str, Any], columns: set[str]) -> HouseholdRow:
    row = HouseholdRow(
        line=line,
        number=_required(cell_plain(cells.get("number")), "number"),
        village_code=_village_code(cells.get("village_code")),
        town_name=cell_text(cells.get("town")),
        village_name=cell_text(cells.get("village")),
    )
    if not row.village_code and not (row.town_name and row.village_name):
        raise RowError(_("neither a village code nor a town and village name."))
    for column in FIELDS_OF_COLUMN.keys() & columns:
        row.values.update(PARSERS[column](cells.get(column)))
    return row


def _required(value: str, name: str) -> str:
    if not value:
        raise RowError(_("the %(column)s is empty.") % {"column": column_label(name)})
    if len(value) > MAX_LENGTH[name]:
        raise RowError(
            _("the %(column)s is longer than %(max)d characters.")
            % {"column": column_label(name), "max": MAX_LENGTH[name]}
        )
    return value


def _village_code(cell: Any) -> str:
    code = cell_plain(cell)
    if code and not VILLAGE_CODE.fullmatch(code):
        raise RowError(
            _("malformed village code “%(code)s” (12 or 15 digits expected).") % {"code": code}
        )
    return code


def _head_name(cell: Any) -> dict:
    return {"head_name": _required(cell_text(cell), "head_name")}


def _address(cell: Any) -> dict:
    address = cell_text(cell)
    if len(address) > MAX_LENGTH["address"]:
        raise RowError(
            _("the address is longer than %(max)d characters.") % {"max": MAX_LENGTH["address"]}
        )
    return {"address": address}


def _id_number(cell: Any) -> dict:
    if isinstance(cell, int | float):
        # Excel keeps 15 significant digits: an 18-digit number typed into a number cell has
        # already lost its last digits, so no check digit could be right.
        raise RowError(
            _("the ID number is stored as a number, which loses digits; format the column as text.")
        )
    value = cell_plain(cell).upper()
    if not value:
        return {"id_number_masked": "", "id_number_digest": ""}
    check_id_number(value)
    return {"id_number_masked": mask_id_number(value), "id_number_digest": id_number_digest(value)}


def check_id_number(value: str) -> None:
    """An 18-character resident ID (GB 11643): 6-digit region, birth date, sequence, check."""
    if not ID_NUMBER.fullmatch(value):
        raise RowError(_("an ID number has 17 digits and a check digit (0–9 or X)."))
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK_DIGITS[total % 11] != value[17]:
        raise RowError(_("the ID number's check digit is wrong; please check the number."))
    try:
        born = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > timezone.localdate():
        raise RowError(_("the ID number does not contain a valid birth date."))


def _phone(cell: Any) -> dict:
    return {"phone": normalise_phone(cell_plain(cell))}


def normalise_phone(value: str) -> str:
    """13812345678 for a mobile, 0537-8721234 for a landline; "" stays blank."""
    digits = PHONE_SEPARATORS.sub("", value)
    if not digits:
        return ""
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if MOBILE.fullmatch(digits):
        return digits
    if landline := LANDLINE.fullmatch(digits):
        return f"{landline[1]}-{landline[2]}"
    raise RowError(
        _("“%(phone)s” is neither an 11-digit mobile number nor a landline with its area code.")
        % {"phone": value}
    )


def _toilet_type(cell: Any) -> dict:
    label = re.sub(r"\s", "", cell_text(cell))
    if not label:
        return {"toilet_type": ""}
    toilet_type = TOILET_TYPES.get(label) or TOILET_TYPES.get(label.lower())
    if toilet_type is None:
        raise RowError(
            _("unknown toilet type “%(type)s” (三格式, 双瓮式, 水冲式, 沼气池式 or 其他).")
            % {"type": label}
        )
    return {"toilet_type": toilet_type.value}


def _tank_volume(cell: Any) -> dict:
    if cell is None or cell == "":
        return {"tank_volume_m3": None}
    text = cell_plain(cell)
    volume = quantity(text, VOLUME, CENT)
    if volume is None or not 0 < volume < MAX_VOLUME:
        raise RowError(
            _("the tank volume “%(volume)s” is not a number of m³ above 0 and below 100.")
            % {"volume": text}
        )
    return {"tank_volume_m3": volume}


def _last_pumped_on(cell: Any) -> dict:
    if isinstance(cell, datetime.datetime):
        day = cell.date()
    elif isinstance(cell, datetime.date):
        day = cell
    elif not cell_text(cell):
        return {"last_pumped_on": None}
    else:
        day = _parse_date(unicodedata.normalize("NFKC", cell_text(cell)))
    if day > timezone.localdate():
        raise RowError(_("the last pumping date %(date)s lies in the future.") % {"date": day})
    return {"last_pumped_on": day}


def _parse_date(text: str) -> datetime.date:
    match = DATE.fullmatch(text)
    try:
        return datetime.date(int(match[1]), int(match[2]), int(match[3]))
    except (TypeError, ValueError):
        raise RowError(
            _("“%(date)s” is not a date (YYYY-MM-DD or YYYY/M/D).") % {"date": text}
        ) from None


def _problem(cell: Any) -> dict:
    label = re.sub(r"\s", "", cell_text(cell))
    problem = PROBLEMS.get(label, PROBLEMS.get(label.lower()))
    if problem is None:
        raise RowError(
            _("unknown problem “%(problem)s” (不能用, 不好用, 不愿用 or blank).")
            % {"problem": label}
        )
    return {"problem": problem.value}


PARSERS = {
    "head_name": _head_name,
    "id_number": _id_number,
    "phone": _phone,
    "address": _address,
    "toilet_type": _toilet_type,
    "tank_volume_m3": _tank_volume,
    "last_pumped_on": _last_pumped_on,
    "problem": _problem,
}


def column_label(name: str) -> str:
    return {
        "number": _("household number"),
        "head_name": _("head of household"),
        "address": _("address"),
        "phone": _("phone"),
    }[name]


# --- villages and duplicates ---------------------------------------------------------------


def resolve_villages(rows: list[HouseholdRow], problems: Problems, *, user=None) -> None:
    """Sets each row's village_code to a stored village's, or to "" with a problem reported.
    Two queries however long the file; only places where `user` imports (see import_places)."""
    towns = match_towns({r.town_name for r in rows if r.town_name}, user=user)
    town_ids = {t.code for matches in towns.values() for t in matches}
    codes = {r.village_code for r in rows if r.village_code}
    villages = load_villages(codes, town_ids, user=user)
    by_name = villages_by_name(villages.values())
    for row in rows:
        try:
            row.village_code = village_of(row, towns, villages, by_name).code
        except RowError as exc:
            row.village_code = ""  # not checked again for duplicates
            problems.add(row.line, str(exc))


def import_places(queryset, user, *, town: str):
    """The towns or villages (`town`: the lookup to a town code) where `user` imports registers
    (imports.run: his county; another county's codes and names are unknown to him); the
    command line (None) imports everywhere."""
    if user is None:
        return queryset
    return queryset.scoped(user, perm="imports.run", town=town)


def load_villages(codes: set[str], town_ids: set[str], *, user=None) -> dict[str, Village]:
    """The villages with these codes or in these towns, by code, with their town's name."""
    villages = (
        import_places(Village.objects, user, town="town_id")
        .filter(Q(code__in=codes) | Q(town__in=town_ids))
        # Not the boundaries: a village's GeoJSON outweighs everything the import needs.
        .select_related("town")
        .only("code", "name", "town__name")
    )
    return {v.code: v for v in villages}


def match_towns(names: set[str], *, user=None) -> dict[str, list[Town]]:
    if not names:
        return {}
    matches = defaultdict(list)
    for town in import_places(Town.objects, user, town="code").only("code", "name"):
        for form in town_forms(town.name) & names:
            matches[form].append(town)
    return matches


def town_forms(name: str) -> set[str]:
    """胡集镇 → {胡集镇, 胡集}; 金乡街道 → {金乡街道, 金乡街道办事处, 金乡}."""
    forms = {name}
    for suffix in ("街道办事处", "街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            base = name[: -len(suffix)]
            forms |= {base, base + "街道", base + "街道办事处"} if "街道" in suffix else {base}
            break
    return forms


def village_forms(name: str) -> set[str]:
    """刘庄村民委员会 → {刘庄村民委员会, 刘庄村委会, 刘庄村, 刘庄}; 金山社区居民委员会 →
    {…, 金山社区居委会, 金山社区}. A natural village 王庄村 also answers to 王庄."""
    forms = {name}
    for suffix, shorts in (
        ("村民委员会", ("村委会", "村", "")),
        ("居民委员会", ("居委会", "")),
        ("村委会", ("村", "")),
        ("居委会", ("",)),
    ):
        if name.endswith(suffix):
            forms |= {name[: -len(suffix)] + short for short in shorts}
            break
    # 刘庄村 → 刘庄, but 张村 stays 张村: a one-character name would match too much.
    forms |= {f[:-1] for f in forms if f.endswith("村") and len(f) > 2}
    forms.discard("")
    return forms


def villages_by_name(villages: Iterable[Village]) -> dict[tuple[str, str], list[Village]]:
    by_name = defaultdict(list)
    for village in villages:
        for form in village_forms(village.name):
            by_name[village.town_id, form].append(village)
    return by_name


class PlaceNames(Protocol):
    """A row's village as written: its code, or its town's and its own name (or both)."""

    village_code: str
    town_name: str
    village_name: str


def village_of(
    row: PlaceNames,
    towns: dict[str, list[Town]],
    villages: dict[str, Village],
    by_name: dict[tuple[str, str], list[Village]],
) -> Village:
    if row.village_code:
        village = villages.get(row.village_code)
        if village is None:
            raise RowError(_("unknown village code %(code)s.") % {"code": row.village_code})
        _check_names_agree(row, village)
        return village
    town = one_town(row.town_name, towns)
    matches = by_name.get((town.code, row.village_name), [])
    if not matches:
        raise RowError(
            _("no village “%(village)s” in %(town)s.")
            % {"village": row.village_name, "town": town.name}
        )
    if len(matches) > 1:
        raise RowError(
            _("“%(village)s” matches several villages of %(town)s (%(codes)s); give the code.")
            % {
                "village": row.village_name,
                "town": town.name,
                "codes": ", ".join(sorted(v.code for v in matches)),
            }
        )
    return matches[0]


def one_town(name: str, towns: dict[str, list[Town]]) -> Town:
    matches = towns.get(name, [])
    if len(matches) != 1:
        message = _("unknown town “%(town)s”.") if not matches else _("ambiguous town “%(town)s”.")
        raise RowError(message % {"town": name})
    return matches[0]


def _check_names_agree(row: PlaceNames, village: Village) -> None:
    """A code and a name that disagree mean a shifted row or a typo in the code: the household
    would land in another village, out of sight of the town that keeps it."""
    if row.village_name and row.village_name not in village_forms(village.name):
        raise RowError(
            _("village code %(code)s is %(name)s, not “%(given)s”.")
            % {"code": village.code, "name": village.name, "given": row.village_name}
        )
    if row.town_name and row.town_name not in town_forms(village.town.name):
        raise RowError(
            _("village code %(code)s lies in %(town)s, not “%(given)s”.")
            % {"code": village.code, "town": village.town.name, "given": row.town_name}
        )


def check_duplicates(rows: list[HouseholdRow], problems: Problems) -> None:
    first_line: dict[tuple[str, str], int] = {}
    for row in rows:
        if not row.village_code:
            continue  # its village is already reported
        key = (row.village_code, row.number)
        if key in first_line:
            problems.add(
                row.line,
                _("household number %(number)s already appears on line %(first)d.")
                % {"number": row.number, "first": first_line[key]},
            )
        first_line.setdefault(key, row.line)


# --- writing -------------------------------------------------------------------------------


def _upsert(rows: list[HouseholdRow], columns: set[str], progress) -> HouseholdImportSummary:
    names = [
        name
        for column in sorted(columns & FIELDS_OF_COLUMN.keys())
        for name in FIELDS_OF_COLUMN[column]
    ]
    stored = _stored(rows, names)
    summary = HouseholdImportSummary(villages=len({r.village_code for r in rows}))
    changed = []
    for row in rows:
        current = stored.pop((row.village_code, row.number), None)
        if current is None:
            summary.created += 1
        elif all(current[name] == row.values[name] for name in names):
            summary.unchanged += 1
            continue
        else:
            summary.updated += 1
        changed.append(Household(village_id=row.village_code, number=row.number, **row.values))
    summary.missing_from_file = len(stored)
    write_upserts(
        changed,
        unique_fields=["village", "number"],
        update_fields=names,
        progress=progress,
        unchanged=summary.unchanged,
    )
    return summary


def _stored(rows: list[HouseholdRow], names: list[str]) -> dict[tuple[str, str], dict]:
    """The stored households of the file's villages, by key: one query, however long the file."""
    households = Household.objects.filter(village__in={r.village_code for r in rows}).order_by()
    return {
        (h["village_id"], h["number"]): h for h in households.values("village_id", "number", *names)
    }

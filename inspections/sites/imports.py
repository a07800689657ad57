"""Import of the black-odorous water body register (黑臭水体清单) into WaterSite.

The county keeps the register in Excel: a row per site, keyed by its code (编号), in its town and
(optionally) village, with a position, list level, treatment and the three responsible people
printed on its signboard. It is read like every register (core.tables): headers as offices
write them, every row checked before anything is written, each error naming its line and
column, then upserts in bulk on the code, so a second run of the same file changes nothing and
says so.

Positions are stored in WGS-84. Rows whose 坐标系 says GCJ-02 (copied from AMap or Tencent
maps), or a whole file declared GCJ-02 with `--crs gcj02`, are converted on import. A position
must lie in or near the county of its town (its stored outline), or, before any outline has
been imported, at least in China.

An update never touches a site's QR token (the label on the signboard must keep working) nor
its state (which moves only by its FSM): the 状态 column is read for new sites only. Sites not
in the file are kept: leaving the register is 移出清单, a transition, not a deletion.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from shapely.geometry import shape

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
    write_upserts,
)
from inspections.models import ListLevel, SiteKind, SiteState, WaterSite
from villages.geo import gcj02_to_wgs84, out_of_china
from villages.households import (
    VILLAGE_CODE,
    import_places,
    load_villages,
    normalise_phone,
    one_town,
    town_forms,
    village_of,
    villages_by_name,
)
from villages.models import County, Town

WGS84, GCJ02 = "wgs84", "gcj02"
CRS_CHOICES = (WGS84, GCJ02)
# Internal names are the English headers the register may use instead (compared lower-case);
# the first alias is the one messages show.
COLUMN_ALIASES = {
    "code": ("编号", "水体编号", "编码", "水体编码", "清单编号"),
    "name": ("名称", "水体名称", "黑臭水体名称"),
    "town": ("乡镇", "乡镇街道", "乡镇(街道)", "所在乡镇", "镇街", "乡镇名称"),
    "village": ("行政村", "村", "所在村", "村名", "村庄", "所在行政村"),
    "type": ("类型", "水体类型", "kind"),
    "area": ("面积", "水体面积", "area_m2"),
    "lng": ("经度", "longitude", "lon"),
    "lat": ("纬度", "latitude"),
    "crs": ("坐标系", "坐标系统"),
    "level": ("级别", "清单级别", "list_level"),
    "treatment": ("治理措施", "整治措施", "治理方案"),
    "county_person": ("县级责任人",),
    "county_phone": ("县级电话", "县级责任人电话", "县级联系电话"),
    "town_person": ("镇级责任人", "乡镇级责任人"),
    "town_phone": ("镇级电话", "镇级责任人电话", "乡镇级电话", "镇级联系电话"),
    "village_person": ("村级责任人",),
    "village_phone": ("村级电话", "村级责任人电话", "村级联系电话"),
    "patrols": ("巡查频次", "每月巡查次数", "patrols_per_month"),
    "state": ("状态", "治理状态"),
}
REQUIRED_COLUMNS = (
    "code",
    "name",
    "town",
    "type",
    "lng",
    "lat",
    "county_person",
    "town_person",
    "village_person",
)
# Columns that may hold digit codes (a town or village by its 12-digit code): Excel's scientific
# notation there is refused column-wide.
CODE_COLUMNS = ("code", "town", "village")
# The WaterSite field each column sets (row.values key); village_id is set once resolved.
FIELD_OF_COLUMN = {
    "name": "name",
    "type": "kind",
    "area": "area_m2",
    "level": "list_level",
    "treatment": "treatment",
    "county_person": "county_person",
    "county_phone": "county_phone",
    "town_person": "town_person",
    "town_phone": "town_phone",
    "village_person": "village_person",
    "village_phone": "village_phone",
    "patrols": "patrols_per_month",
    "village": "village_id",
}
ALWAYS_WRITTEN = ("town_id", "lng", "lat")
KINDS = {
    "河流": SiteKind.RIVER,
    "河道": SiteKind.RIVER,
    "河": SiteKind.RIVER,
    "坑塘": SiteKind.POND,
    "池塘": SiteKind.POND,
    "塘": SiteKind.POND,
    "沟渠": SiteKind.DITCH,
    "沟": SiteKind.DITCH,
    "渠": SiteKind.DITCH,
    "湖泊": SiteKind.LAKE,
    "湖": SiteKind.LAKE,
    "水库": SiteKind.RESERVOIR,
    **{choice.value: choice for choice in SiteKind},
}
LEVELS = {
    "": ListLevel.COUNTY,
    "国家级": ListLevel.NATIONAL,
    "国家": ListLevel.NATIONAL,
    "省级": ListLevel.PROVINCIAL,
    "省": ListLevel.PROVINCIAL,
    "县级": ListLevel.COUNTY,
    "县": ListLevel.COUNTY,
    **{choice.value: choice for choice in ListLevel},
}
# Only the states a site can be listed in; the others are reached by transitions.
STATES = {
    "": SiteState.GOVERNING,
    "治理中": SiteState.GOVERNING,
    "已验收管护中": SiteState.MAINTAINED,
    "已验收": SiteState.MAINTAINED,
    "管护中": SiteState.MAINTAINED,
    SiteState.GOVERNING.value: SiteState.GOVERNING,
    SiteState.MAINTAINED.value: SiteState.MAINTAINED,
}
CRS_LABELS = {
    "": "",
    "wgs84": WGS84,
    "gps": WGS84,
    # CGCS2000 (天地图, surveys) differs from WGS-84 by centimetres.
    "cgcs2000": WGS84,
    "2000": WGS84,
    "gcj02": GCJ02,
    "火星坐标": GCJ02,
    "高德": GCJ02,
    "腾讯": GCJ02,
}
DEGREES = re.compile(r"[0-9]{1,3}(?:\.[0-9]+)?°?")
# 116°14′20.5″ or 116度14分20.5秒; NFKC has turned ″ into ′′ and full-width digits into ASCII.
DMS = re.compile(
    r"([0-9]{1,3})[°度]([0-9]{1,2}(?:\.[0-9]+)?)[′'分]"
    r"(?:([0-9]{1,2}(?:\.[0-9]+)?)(?:′′|''|\"|秒))?"
)
AREA = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:m2|平方米|平米)?", re.IGNORECASE)
PATROLS = re.compile(r"(?:每月)?([0-9]+)次?(?:/月|每月)?")
MAX_PATROLS = 31
TENTH = Decimal("0.1")
EXACT = Decimal("1e-6")  # parsing only; the area is rounded once it is in m²
# Units a register's area header may name, as NFKC lower-cases them; 1 亩 = 10000/15 m² exactly.
AREA_UNITS = {"亩": Decimal(10000) / Decimal(15), "公顷": Decimal(10000), "hm2": Decimal(10000)}
MAX_AREA = Decimal(10) ** (
    WaterSite._meta.get_field("area_m2").max_digits
    - WaterSite._meta.get_field("area_m2").decimal_places
)
MAX_LENGTH = {
    name: WaterSite._meta.get_field(name).max_length
    for name in ("code", "name", "county_person", "town_person", "village_person")
} | {"town": Town._meta.get_field("name").max_length}
# 1e-7 degree ≈ 1 cm: the GCJ-02 inversion is good to ~1 m, more digits are noise.
DECIMALS = 7
# Sites along the county border (rivers often are the border) and outlines digitised from
# small-scale maps: a position this close outside the county outline is still accepted.
SURROUNDINGS_KM = 5
KM_PER_DEGREE_OF_LATITUDE = 111.195


class WaterSiteImportError(TableImportError):
    """Rows of a water-site register that cannot be imported."""


REGISTER = TableLayout(COLUMN_ALIASES, ("code", "name"), WaterSiteImportError)


@dataclass
class SiteRow:
    line: int
    code: str
    town: str  # as written: a name in any usual form, or the 12-digit code
    village: str  # as written: a name within the town, a code, or ""
    crs: str
    lng: float  # as written, for messages; the WGS-84 position goes into values
    lat: float
    state: str
    values: dict[str, Any] = field(default_factory=dict)
    county: str = ""  # the town's county, once the town is known


@dataclass
class WaterSiteImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    converted: int = 0  # GCJ-02 positions converted to WGS-84
    missing_from_file: int = 0

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated)


@dataclass(frozen=True)
class _Place:
    """A row's village as village_of() reads it, with the town already resolved."""

    village_code: str
    town_name: str
    village_name: str


def water_sites_import(
    *, path: Path, crs: str = WGS84, progress=None, user=None
) -> WaterSiteImportSummary:
    """`crs` is that of positions whose row names none. Raises WaterSiteImportError, with
    nothing written, if any row is bad. `progress`, if given, is a tqdm-like bar: its total is
    set to the row count. With `user` (the import page), a row's town and village must lie
    where he imports (his county), and its code must not be another county's site."""
    if crs not in CRS_CHOICES:
        raise ValueError(f"crs must be one of {CRS_CHOICES}, not {crs!r}")
    problems = Problems(error=WaterSiteImportError)
    rows, headers = parse_register(read_table(path, error=WaterSiteImportError), problems, crs)
    resolve_places(rows, headers, problems, user=user)
    converted = to_wgs84(rows)
    check_positions(rows, headers, problems)
    check_unique_codes(rows, headers, problems)
    check_codes_are_own(rows, headers, problems, user=user)
    problems.raise_if_any()
    if progress is not None:
        progress.total = len(rows)
        progress.refresh()
    summary = _upsert(rows, set(headers), progress)
    summary.converted = converted
    return summary


# --- reading -------------------------------------------------------------------------------


def parse_register(
    table: Table, problems: Problems, crs: str
) -> tuple[list[SiteRow], dict[str, str]]:
    """The rows below the header, parsed; each column the file carries, with its header as
    written there (what messages call it)."""
    header_line, columns = find_header(table, REGISTER)
    cells = next(cells for line, cells in table if line == header_line)
    headers = {name: cell_text(cells[i]) for i, name in columns.items()}
    missing = [COLUMN_ALIASES[name][0] for name in REQUIRED_COLUMNS if name not in headers]
    if missing:
        raise WaterSiteImportError(
            [
                _("Line %(line)d: missing column(s) %(columns)s.")
                % {"line": header_line, "columns": ", ".join(missing)}
            ]
        )
    parsers = CELL_PARSERS | ({"area": _area_in(headers["area"])} if "area" in headers else {})
    rows = parse_rows(
        table,
        header_line,
        columns,
        problems,
        lambda n, row: _parse_row(n, row, headers, parsers, crs),
        codes=CODE_COLUMNS,
    )
    if not rows and not problems.items:
        raise WaterSiteImportError(
            [_("Line %(line)d: no water sites below the header.") % {"line": header_line}]
        )
    return rows, headers


def _parse_row(
    line: int, cells: dict[str, Any], headers: dict[str, str], parsers: dict, crs: str
) -> SiteRow:
    parsed = {}
    for column, header in headers.items():
        try:
            parsed[column] = parsers[column](cells.get(column))
        except RowError as exc:
            raise RowError(in_column(header, str(exc))) from None
    return SiteRow(
        line=line,
        code=parsed["code"],
        town=parsed["town"],
        village=parsed.get("village", ""),
        crs=parsed.get("crs") or crs,
        lng=parsed["lng"],
        lat=parsed["lat"],
        state=parsed.get("state", SiteState.GOVERNING),
        values={FIELD_OF_COLUMN[c]: v for c, v in parsed.items() if c in FIELD_OF_COLUMN},
    )


# --- one cell ------------------------------------------------------------------------------


def _required(text: str, name: str) -> str:
    """`text`, refused if empty or longer than the `name` column holds."""
    if not text:
        raise RowError(_("required, but empty."))
    if len(text) > MAX_LENGTH[name]:
        raise RowError(_("longer than %(max)d characters.") % {"max": MAX_LENGTH[name]})
    return text


def _required_text(name: str) -> Callable[[Any], str]:
    return lambda cell: _required(cell_text(cell), name)


def parse_degrees(cell: Any) -> float:
    """Decimal degrees, from a number cell or text, or degrees-minutes-seconds text."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return float(cell)
    text = cell_plain(cell)
    if not text:
        raise RowError(_("required, but empty."))
    if DEGREES.fullmatch(text):
        return float(text.rstrip("°"))
    dms = DMS.fullmatch(text)
    minutes, seconds = (float(dms[2]), float(dms[3] or 0)) if dms else (60, 60)
    if minutes >= 60 or seconds >= 60:
        raise RowError(_("“%(value)s” is not a number of degrees.") % {"value": text})
    return int(dms[1]) + minutes / 60 + seconds / 3600


def _area_in(header: str) -> Callable[[Any], Decimal | None]:
    """A parser for the area column, to m²: registers also keep areas in 亩 (面积(亩)), which
    the header names and the cells do not."""
    unit = unicodedata.normalize("NFKC", header).lower()
    factor = next((f for name, f in AREA_UNITS.items() if name in unit), Decimal(1))

    def parse(cell: Any) -> Decimal | None:
        text = cell_plain(cell)
        if not text:
            return None
        number = quantity(text, AREA, EXACT)
        # The column keeps one decimal; rounding here makes a re-import compare equal.
        area = None if number is None else (number * factor).quantize(TENTH, ROUND_HALF_UP)
        if area is None or not 0 < area < MAX_AREA:
            raise RowError(_("“%(value)s” is not an area above 0.") % {"value": text})
        return area

    return parse


def _patrols(cell: Any) -> int:
    text = cell_plain(cell)
    if not text:
        return 1
    match = PATROLS.fullmatch(text)
    if match is None or not 1 <= int(match[1]) <= MAX_PATROLS:
        raise RowError(
            _("“%(value)s” is not a number of patrols a month (1 to %(max)d).")
            % {"value": text, "max": MAX_PATROLS}
        )
    return int(match[1])


def _phone(cell: Any) -> str:
    return normalise_phone(cell_plain(cell))


CELL_PARSERS = {
    "code": lambda cell: _required(cell_plain(cell), "code"),
    "name": _required_text("name"),
    "town": lambda cell: _required(cell_plain(cell), "town"),
    "village": cell_plain,
    "type": label_choice(
        KINDS, gettext_noop("unknown type “%(value)s” (河流, 坑塘, 沟渠, 湖泊 or 水库).")
    ),
    "lng": parse_degrees,
    "lat": parse_degrees,
    "crs": label_choice(
        CRS_LABELS, gettext_noop("unknown coordinate system “%(value)s” (WGS84 or GCJ02).")
    ),
    "level": label_choice(
        LEVELS, gettext_noop("unknown list level “%(value)s” (国家级, 省级 or 县级).")
    ),
    "treatment": cell_text,
    "county_person": _required_text("county_person"),
    "county_phone": _phone,
    "town_person": _required_text("town_person"),
    "town_phone": _phone,
    "village_person": _required_text("village_person"),
    "village_phone": _phone,
    "patrols": _patrols,
    "state": label_choice(
        STATES, gettext_noop("a new site is either 治理中 or 已验收·管护中, not “%(value)s”.")
    ),
}


# --- towns, villages, positions, codes -----------------------------------------------------


def resolve_places(
    rows: list[SiteRow], headers: dict[str, str], problems: Problems, *, user=None
) -> None:
    """Sets each row's town_id (and village_id, when the file has the column) and county, or
    reports the row. Two queries however long the file; only places where `user` imports."""
    towns = _towns_by_form(user)
    named = [row for row in rows if _resolve_town(row, towns, headers, problems)]
    if "village" not in headers:
        return
    codes = {row.village for row in named if VILLAGE_CODE.fullmatch(row.village)}
    villages = load_villages(codes, {row.values["town_id"] for row in named}, user=user)
    by_name = villages_by_name(villages.values())
    for row in named:
        if not row.village:
            row.values["village_id"] = None
            continue
        code = row.village if row.village in codes else ""
        place = _Place(code, towns[row.values["town_id"]][0].name, "" if code else row.village)
        try:
            row.values["village_id"] = village_of(place, towns, villages, by_name).code
        except RowError as exc:
            problems.add(row.line, in_column(headers["village"], str(exc)))


def _towns_by_form(user=None) -> dict[str, list[Town]]:
    """Every town under each way a register writes it: its code, and its name's usual forms."""
    towns = defaultdict(list)
    for town in import_places(Town.objects, user, town="code").only("code", "name", "county_id"):
        for form in {town.code} | town_forms(town.name):
            towns[form].append(town)
    return towns


def _resolve_town(
    row: SiteRow, towns: dict[str, list[Town]], headers: dict[str, str], problems: Problems
) -> bool:
    try:
        town = one_town(row.town, towns)
    except RowError as exc:
        problems.add(row.line, in_column(headers["town"], str(exc)))
        return False
    row.values["town_id"], row.county = town.code, town.county_id
    return True


def to_wgs84(rows: list[SiteRow]) -> int:
    """Puts each row's WGS-84 position into its values; returns how many were converted. One
    vectorised conversion for the whole file."""
    lng = np.array([row.lng for row in rows])
    lat = np.array([row.lat for row in rows])
    gcj = np.array([row.crs == GCJ02 for row in rows])
    if gcj.any():
        lng[gcj], lat[gcj] = gcj02_to_wgs84(lng[gcj], lat[gcj])
    for row, x, y in zip(rows, lng.tolist(), lat.tolist(), strict=True):
        row.values["lng"], row.values["lat"] = round(x, DECIMALS), round(y, DECIMALS)
    return int(gcj.sum())


def check_positions(rows: list[SiteRow], headers: dict[str, str], problems: Problems) -> None:
    """Each position in or near its town's county (one query for the outlines), or, for a
    county whose outline is not imported yet, in China."""
    by_county = defaultdict(list)
    for row in rows:
        if row.county:  # a row without a known town is reported already
            by_county[row.county].append(row)
    counties = County.objects.filter(code__in=by_county).values_list("code", "name", "boundary")
    column = f"{headers['lng']}, {headers['lat']}"
    for code, name, boundary in counties:
        outline = shape(boundary) if boundary else None
        for row in _outside(by_county[code], outline):
            problems.add(row.line, in_column(column, _outside_message(row, outline, name)))


def _outside(rows: list[SiteRow], outline) -> list[SiteRow]:
    lng = np.array([row.values["lng"] for row in rows])
    lat = np.array([row.values["lat"] for row in rows])
    inside = _near(outline, lng, lat)
    return [row for row, ok in zip(rows, inside.tolist(), strict=True) if not ok]


def _near(outline, lng: np.ndarray, lat: np.ndarray) -> np.ndarray:
    if outline is None:
        return ~np.asarray(out_of_china(lng, lat))
    shapely.prepare(outline)
    # A margin in degrees of latitude: east–west it is cos(35°) ≈ 0.82 of that, still > 4 km.
    margin = SURROUNDINGS_KM / KM_PER_DEGREE_OF_LATITUDE
    return shapely.dwithin(outline, shapely.points(lng, lat), margin)


def _outside_message(row: SiteRow, outline, county: str) -> str:
    where = {
        "lng": str(round(row.lng, 6)),  # as written (before any GCJ-02 conversion)
        "lat": str(round(row.lat, 6)),
        "county": county,
        "km": SURROUNDINGS_KM,
    }
    if outline is None:
        message = _("the position %(lng)s, %(lat)s is not in China.") % where
    else:
        message = (
            _("the position %(lng)s, %(lat)s lies outside %(county)s and the %(km)d km around it.")
            % where
        )
    swapped = _near(outline, np.array([row.values["lat"]]), np.array([row.values["lng"]]))
    if swapped[0]:
        message += " " + _("Are longitude and latitude swapped?")
    return message


def check_unique_codes(rows: list[SiteRow], headers: dict[str, str], problems: Problems) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        first = first_line.setdefault(row.code, row.line)
        if first != row.line:
            problems.add(
                row.line,
                in_column(
                    headers["code"],
                    _("%(code)s already appears on line %(first)d.")
                    % {"code": row.code, "first": first},
                ),
            )


def check_codes_are_own(
    rows: list[SiteRow], headers: dict[str, str], problems: Problems, *, user=None
) -> None:
    """A row updates the stored site of its code: never one outside `user`'s county (a site
    code is unique in the whole database, whichever county registered it first)."""
    if user is None:
        return
    codes = {row.code for row in rows}
    own = import_places(WaterSite.objects, user, town="town_id")
    foreign = set(
        WaterSite.objects.filter(code__in=codes)
        .exclude(pk__in=own.values("pk"))
        .values_list("code", flat=True)
    )
    for row in rows:
        if row.code in foreign:
            problems.add(
                row.line,
                in_column(
                    headers["code"],
                    _("%(code)s is the code of a site outside your county.") % {"code": row.code},
                ),
            )


# --- writing -------------------------------------------------------------------------------


def _upsert(rows: list[SiteRow], columns: set[str], progress) -> WaterSiteImportSummary:
    # Only the columns the file has: a register without phones keeps the stored ones.
    names = [
        *ALWAYS_WRITTEN,
        *(FIELD_OF_COLUMN[c] for c in sorted(columns & FIELD_OF_COLUMN.keys())),
    ]
    # The whole register (a county has a few hundred sites): one query, without an IN list
    # as long as the file.
    stored = {s["code"]: s for s in WaterSite.objects.values("code", "state", *names)}
    summary = WaterSiteImportSummary()
    changed = []
    for row in rows:
        current = stored.pop(row.code, None)
        if current is None:
            summary.created += 1
            # The state is set here, on creation only; it is not among the updated fields.
            changed.append(WaterSite(code=row.code, state=row.state, **row.values))
        elif all(current[name] == row.values[name] for name in names):
            summary.unchanged += 1
        else:
            summary.updated += 1
            changed.append(WaterSite(code=row.code, **row.values))
    # Sites already 移出清单 are expected to be missing from the file.
    summary.missing_from_file = sum(s["state"] != SiteState.DELISTED for s in stored.values())
    write_upserts(
        changed,
        unique_fields=["code"],
        # Never token, token_issued_at, state or created_at: they belong to the stored site.
        update_fields=[*names, "updated_at"],
        progress=progress,
        unchanged=summary.unchanged,
    )
    return summary

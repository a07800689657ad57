"""Import of county / town / village boundaries (or village points) from GIS files.

Reads GeoJSON, GeoPackage and Shapefile through geopandas + pyogrio (pip wheels, no system
GDAL), brings the coordinates to WGS-84 — reprojecting with the file's CRS, or undoing the
GCJ-02 shift of files scraped from Chinese web maps — and matches every feature to a stored
division by its code or, failing that, by its name. Nothing is written until every feature has
been read, converted and matched; then one transaction writes a few `bulk_update` statements
per level. Divisions whose stored geometry already equals the file's are left alone, so a
second run changes nothing (not even `geo_updated_at`, which the point lookup watches).

A file of one unit's outline — the county fence an office is usually handed — often carries no
columns at all: a bare GeoJSON geometry, a Feature or a FeatureCollection without properties.
`code` says which division it outlines (510722, 510722101 or a 12-digit code); its features are
then that division's parts. Without it such a file is refused, saying so, not guessed at.

Nested JSON division lists (the statistics bureau's tree of code, name and children) hold no
geometry: they are named as such and refused; the division list is imported by
`import_divisions` from an .xlsx or a CSV.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas
import pandas as pd
import pyogrio
import pyproj
import shapely
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon

from villages.geo import geometry_gcj02_to_wgs84
from villages.models import County, Town, Village

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

LEVELS = ("county", "town", "village")
LEVEL_MODELS = {"county": County, "town": Town, "village": Village}
GCJ02 = "GCJ-02"
# Column names seen in county GIS deliverables (第三次国土调查, 天地图, AMap exports…), compared
# case-insensitively, in order of preference.
CODE_FIELDS = ("code", "adcode", "xzqdm", "xzqhdm", "qhdm", "cundm", "dm", "代码", "区划代码")
NAME_FIELDS = ("name", "xzqmc", "xzqhmc", "qhmc", "cunmc", "mc", "名称", "村名")
TOWN_FIELDS = ("town", "town_name", "town_code", "xzmc", "xzdm", "xzjd", "乡镇", "乡镇名称")
# Suffixes dropped to compare names: 刘庄村民委员会 ↔ 刘庄村 ↔ 刘庄. Longest first.
NAME_SUFFIXES = {
    "county": ("自治县", "县", "区", "市"),
    "town": ("街道办事处", "街道", "镇", "乡"),
    "village": ("村民委员会", "居民委员会", "村委会", "居委会", "村"),
}
DECIMALS = 7  # 1e-7 degree ≈ 1 cm: finer than any boundary survey, and keeps the JSON small
BATCH = 500


class BoundaryImportError(Exception):
    """The file cannot be imported at all (missing, unreadable, unusable columns or CRS)."""


@dataclass(frozen=True)
class FeatureRef:
    """A feature of the file as the user will recognise it: its row (0-based, which is also
    GDAL's feature id for GeoJSON and Shapefile) and the code and name it carried."""

    index: int
    code: str = ""
    name: str = ""
    reason: str = ""


@dataclass
class BoundaryImportResult:
    features: int = 0
    source_crs: str = ""
    crs_assumed: bool = False
    code_field: str | None = None
    name_field: str | None = None
    town_field: str | None = None
    unit: str = ""  # "510722000000 三台县": the division the whole file outlines (`code`)
    matched: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    points: Counter = field(default_factory=Counter)
    unmatched: list[FeatureRef] = field(default_factory=list)
    ambiguous: list[FeatureRef] = field(default_factory=list)
    refused: list[FeatureRef] = field(default_factory=list)
    repaired: list[FeatureRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed_anything(self) -> bool:
        return not self.dry_run and bool(sum(self.updated.values()))


@dataclass(frozen=True)
class _Division:
    level: str
    code: str
    name: str
    town: str = ""  # villages only: the town's code


@dataclass(frozen=True)
class _Fields:
    code: str | None
    name: str | None
    town: str | None


@dataclass(frozen=True)
class _Shape:
    """What one division receives: a boundary (polygonal) or only a centre (point)."""

    boundary: dict | None
    lng: float
    lat: float


# --- entry point ------------------------------------------------------------------------------


def boundaries_import(
    *,
    path: Path,
    level: str = "auto",
    code_field: str | None = None,
    name_field: str | None = None,
    town_field: str | None = None,
    crs: str | None = None,
    code: str | None = None,
    dry_run: bool = False,
) -> BoundaryImportResult:
    """`code`, if given, is the division (county, town or village) the whole file outlines."""
    declared = parse_crs(crs)
    unit = _unit(code, level) if code else None
    frame, notes = read_features(path)
    result = BoundaryImportResult(features=len(frame), notes=notes, dry_run=dry_run)
    frame = to_wgs84(frame, declared, result)
    if unit is None:
        fields = detect_fields(frame, code_field, name_field, town_field)
        result.code_field, result.name_field = fields.code, fields.name
        result.town_field = fields.town
        geometries = _clean_geometries(frame, fields, result)
        groups = _match_features(frame, fields, level, geometries, result)
    else:
        fields = _check_unit_agrees(frame, code_field, unit)
        result.unit = f"{unit.code} {unit.name}"
        geometries = _clean_geometries(frame, fields, result)
        groups = {
            (unit.level, unit.code): [(_ref(frame, fields, i), g) for i, g in geometries.items()]
        }
        groups = {key: members for key, members in groups.items() if members}
    shapes = _shapes_of(groups, result)
    changed = _compare_with_stored(shapes, result)
    if not dry_run:
        _write(changed)
    return result


# --- reading and coordinates ------------------------------------------------------------------


def parse_crs(value: str | None) -> str | pyproj.CRS | None:
    if not value:
        return None
    if value.strip().lower().replace("-", "").replace("_", "") in ("gcj02", "gcj"):
        return GCJ02
    try:
        return pyproj.CRS.from_user_input(value.strip())
    except pyproj.exceptions.CRSError:
        raise BoundaryImportError(
            _("Unknown CRS “%(crs)s”: give gcj02 or an EPSG code such as EPSG:4527.")
            % {"crs": value}
        ) from None


def read_features(path: Path) -> tuple[geopandas.GeoDataFrame, list[str]]:
    """The first layer of the file, plus what GDAL had to say about it (as notes: the user
    should see them, and a stray GDAL warning must not abort an import)."""
    if not path.exists():
        raise BoundaryImportError(_("File not found: %(file)s") % {"file": path})
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            layers = pyogrio.list_layers(path)
            if len(layers) == 0:
                raise ValueError(_("it holds no layer"))
            # Naming the layer keeps pyogrio from warning about multi-layer GeoPackages.
            frame = geopandas.read_file(path, engine="pyogrio", layer=layers[0][0])
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
            if _is_division_tree(path):
                raise BoundaryImportError(
                    _(
                        "%(file)s is a nested JSON list of divisions (code, name, children), not "
                        "a map: it holds no boundaries. Import the division list with "
                        "import_divisions (an .xlsx or CSV file; import_template divisions "
                        "writes a blank one)."
                    )
                    % {"file": path}
                ) from None
            raise BoundaryImportError(
                _("Cannot read %(file)s as GeoJSON, GeoPackage or Shapefile: %(error)s")
                % {"file": path, "error": exc}
            ) from None
    if not isinstance(frame, geopandas.GeoDataFrame):
        raise BoundaryImportError(
            _("%(file)s has no geometry column: it is a table, not a map layer.") % {"file": path}
        )
    if len(layers) > 1:
        notes.append(
            _("The file has %(count)d layers; only the first, “%(layer)s”, was read.")
            % {"count": len(layers), "layer": layers[0][0]}
        )
    notes += [str(w.message) for w in caught]
    return frame, notes


def _is_division_tree(path: Path) -> bool:
    """JSON of divisions nested by "children" (as lists of the statistics bureau's codes are
    published by scrapers and some apps), which GDAL cannot read as a map."""
    if path.suffix.lower() not in (".json", ".geojson"):
        return False
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, OSError):
        return False
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, dict) and "type" not in first and "children" in first


def to_wgs84(
    frame: geopandas.GeoDataFrame, declared: str | pyproj.CRS | None, result: BoundaryImportResult
) -> geopandas.GeoDataFrame:
    if isinstance(declared, str):  # GCJ02, the one CRS pyproj does not know
        frame = _from_gcj02(frame)
        result.source_crs = GCJ02
    elif declared is not None:
        result.source_crs = declared.to_string()
        frame = _reproject(frame.set_crs(declared, allow_override=True))
    elif frame.crs is None:
        frame = frame.set_crs(epsg=4326)
        result.source_crs, result.crs_assumed = "EPSG:4326", True
    else:
        result.source_crs = frame.crs.to_string()
        frame = _reproject(frame)
    _check_degrees(frame, declared is not None)
    return frame


def _reproject(frame: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    try:
        return frame.to_crs(epsg=4326)
    except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError, ValueError) as exc:
        raise BoundaryImportError(
            _("Cannot convert %(crs)s to WGS-84: %(error)s")
            % {"crs": frame.crs.to_string(), "error": exc}
        ) from None


def _from_gcj02(frame: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    # GCJ-02 is a shift of longitude/latitude; metres in the file mean the user is mistaken.
    if frame.crs is not None and not frame.crs.is_geographic:
        raise BoundaryImportError(
            _("The file's CRS %(crs)s is projected, but GCJ-02 is longitude/latitude.")
            % {"crs": frame.crs.to_string()}
        )
    _check_degrees(frame, given=True)
    converted = geometry_gcj02_to_wgs84(frame.geometry.to_numpy())
    return frame.set_geometry(geopandas.GeoSeries(converted, index=frame.index, crs=4326))


def _check_degrees(frame: geopandas.GeoDataFrame, given: bool) -> None:
    """Projected coordinates read as degrees (a Gauss-Krüger file without .prj) would be
    stored as nonsense; refuse them and say what to do."""
    min_x, min_y, max_x, max_y = frame.total_bounds
    if not (min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90):  # NaN: no geometry
        return
    if given:
        hint = _("Check the CRS given with --crs.")
    else:
        hint = _("Give the file's CRS with --crs, e.g. --crs EPSG:4527.")
    raise BoundaryImportError(
        _("The coordinates (%(x).1f, %(y).1f …) are not longitude/latitude degrees.")
        % {"x": min_x, "y": min_y}
        + " "
        + hint
    )


# --- columns ----------------------------------------------------------------------------------


def detect_fields(
    frame: geopandas.GeoDataFrame,
    code_field: str | None,
    name_field: str | None,
    town_field: str | None,
) -> _Fields:
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    fields = _Fields(
        code=_pick_column(columns, code_field, CODE_FIELDS),
        name=_pick_column(columns, name_field, NAME_FIELDS),
        town=_pick_column(columns, town_field, TOWN_FIELDS),
    )
    if fields.code is None and fields.name is None:
        values = {"columns": ", ".join(columns) or "—", "count": len(frame)}
        if len(frame) > 1:
            message = _(
                "The file has %(count)d features and no code or name column (columns: "
                "%(columns)s), so nothing says which division each one is. If together they "
                "outline one division, give its code with --code (e.g. --code 510722); "
                "otherwise name the column that tells them apart with --code-field or "
                "--name-field."
            )
        else:
            message = _(
                "No code or name column found (columns: %(columns)s). Give the code of the "
                "division the file outlines with --code (e.g. --code 510722), or name a "
                "column with --code-field or --name-field."
            )
        raise BoundaryImportError(message % values)
    return fields


def _pick_column(columns: list[str], given: str | None, candidates: tuple[str, ...]) -> str | None:
    by_lower = {c.lower(): c for c in columns}
    if given:
        found = given if given in columns else by_lower.get(given.lower())
        if found is None:
            raise BoundaryImportError(
                _("Column “%(column)s” is not in the file (columns: %(columns)s).")
                % {"column": given, "columns": ", ".join(columns) or "—"}
            )
        return found
    return next((by_lower[c] for c in candidates if c in by_lower), None)


def _unit(code: str, level: str) -> _Division:
    """The stored division `code` names (6, 9, 12 or 15 digits), of `level` unless "auto"."""
    normalised = normalise_code(code)
    for candidate in LEVELS if level == "auto" else (level,):
        names = LEVEL_MODELS[candidate].objects.filter(code=normalised)
        name = names.values_list("name", flat=True).first()
        if name is not None:
            return _Division(candidate, normalised, name)
    raise BoundaryImportError(
        _("--code %(code)s: no stored division has the code %(normalised)s.")
        % {"code": code, "normalised": normalised}
    )


def _check_unit_agrees(
    frame: geopandas.GeoDataFrame, code_field: str | None, unit: _Division
) -> _Fields:
    """With --code, the file's own code column (or, without one, its name column) may name that
    one division only: a file of many villages taken as one would merge them into one outline."""
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    code_column = _pick_column(columns, code_field, CODE_FIELDS)
    name_column = None if code_column else _pick_column(columns, None, NAME_FIELDS)
    fields = _Fields(code=code_column, name=name_column, town=None)
    if code_column:
        named = {normalise_code(value) for value in frame[code_column]} - {"", unit.code}
    elif name_column:
        names = {_text(value) for value in frame[name_column]} - {""}
        named = names if len(names) > 1 else set()
    else:
        named = set()
    if named:
        listed = sorted(named)
        raise BoundaryImportError(
            _(
                "--code says the whole file outlines %(unit)s, but its column “%(column)s” "
                "names %(values)s. Leave out --code to match each feature by its own code or "
                "name."
            )
            % {
                "unit": f"{unit.code} {unit.name}",
                "column": code_column or name_column,
                "values": ", ".join(listed[:5]) + (" …" if len(listed) > 5 else ""),
            }
        )
    return fields


def normalise_code(value: object) -> str:
    """Shapefiles store codes as numbers (370828001000.0), AMap as 6-digit adcodes: both
    become the 12-digit statistical code (370828 → 370828000000, 370828101 → 370828101000)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{6}|\d{9}", text):
        text = text.ljust(12, "0")
    return text


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).strip()


# --- geometry ---------------------------------------------------------------------------------


def _clean_geometries(
    frame: geopandas.GeoDataFrame, fields: _Fields, result: BoundaryImportResult
) -> dict[int, BaseGeometry]:
    """Position → usable geometry (polygonal or a point); the rest goes to `result.refused`."""
    usable = {}
    for index, geom in enumerate(frame.geometry.values):
        cleaned, problem, repaired = _clean_geometry(geom)
        if cleaned is None:
            result.refused.append(_ref(frame, fields, index, problem))
            continue
        if repaired:
            result.repaired.append(_ref(frame, fields, index, _("invalid geometry repaired")))
        usable[index] = cleaned
    return usable


def _clean_geometry(geom: BaseGeometry | None) -> tuple[BaseGeometry | None, str, bool]:
    """(geometry, why refused, whether repaired). Z is dropped: GeoJSON consumers and the
    lookup are 2-D, and 3-D shapefiles (PolygonZ) are common in survey deliverables."""
    if geom is None or geom.is_empty:
        return None, _("no geometry"), False
    geom = shapely.force_2d(geom)
    if isinstance(geom, MultiPoint):
        if len(geom.geoms) > 1:
            return None, _("several points in one feature"), False
        geom = geom.geoms[0]
    if isinstance(geom, Point):
        return geom, "", False
    repaired = not geom.is_valid
    if repaired:
        geom = shapely.make_valid(geom)
    polygonal = _polygonal_part(geom)
    if polygonal is not None:
        return polygonal, "", repaired
    if repaired:
        return None, _("invalid geometry that cannot be repaired"), False
    return None, _("neither a polygon nor a point"), False


def _polygonal_part(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """make_valid may return a GeometryCollection with stray lines; keep only the area."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    polygons = [p for p in parts if isinstance(p, Polygon) and not p.is_empty]
    if not polygons:
        return None
    return shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]


def _geojson(geom: Polygon | MultiPolygon) -> dict:
    """GeoJSON geometry with lists of plain floats — what the JSONField gives back when read —
    so a stored boundary and a freshly imported one compare equal."""
    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": _rings(geom)}
    return {"type": "MultiPolygon", "coordinates": [_rings(part) for part in geom.geoms]}


def _rings(polygon: Polygon) -> list:
    rings = [polygon.exterior, *polygon.interiors]
    return [shapely.get_coordinates(ring).round(DECIMALS).tolist() for ring in rings]


def _centre(geom: BaseGeometry) -> Point:
    """The centroid of a C-shaped village or of one with an exclave can fall outside it —
    inside a neighbour, which would then win the nearest-centre lookup and put the map pin in
    the wrong village. representative_point() is always inside."""
    if isinstance(geom, Point):
        return geom
    centroid = geom.centroid
    return centroid if geom.contains(centroid) else geom.representative_point()


def _shapes_of(
    groups: dict[tuple[str, str], list[tuple[FeatureRef, BaseGeometry]]],
    result: BoundaryImportResult,
) -> dict[tuple[str, str], _Shape]:
    shapes = {}
    for (level, code), members in groups.items():
        geometry = _merge(code, members, result)
        if geometry is None:
            continue
        centre = _centre(geometry)
        boundary = None if isinstance(geometry, Point) else _geojson(geometry)
        shapes[level, code] = _Shape(boundary, round(centre.x, DECIMALS), round(centre.y, DECIMALS))
        result.matched[level] += 1
        result.points[level] += boundary is None
    return shapes


def _merge(
    code: str, members: list[tuple[FeatureRef, BaseGeometry]], result: BoundaryImportResult
) -> BaseGeometry | None:
    """Several features for one division: its parts (an exclave drawn as a second row) are
    merged; points next to a polygon are ignored; distinct points cannot be told apart."""
    if len(members) == 1:
        return members[0][1]
    numbers = ", ".join(f"#{ref.index}" for ref, _geom in members)
    polygons = [geom for _ref, geom in members if not isinstance(geom, Point)]
    if not polygons:
        points = shapely.union_all([geom for _ref, geom in members])
        if isinstance(points, Point):  # the same point repeated
            return points
        reason = _("%(count)d points for %(code)s (features %(features)s)") % {
            "count": len(members),
            "code": code,
            "features": numbers,
        }
        result.ambiguous += [replace(ref, reason=reason) for ref, _geom in members]
        return None
    result.notes.append(
        _("Features %(features)s all belong to %(code)s; their shapes were merged.")
        % {"features": numbers, "code": code}
    )
    return _polygonal_part(shapely.union_all(polygons))


# --- matching ---------------------------------------------------------------------------------


class _Directory:
    """Every stored division, read once (three queries), indexed by code and by name."""

    def __init__(self) -> None:
        self.by_code: dict[str, list[_Division]] = defaultdict(list)
        self.by_name: dict[tuple[str, str], list[_Division]] = defaultdict(list)
        self.by_stem: dict[tuple[str, str], list[_Division]] = defaultdict(list)
        for division in self._load():
            self.by_code[division.code].append(division)
            self.by_name[division.level, division.name].append(division)
            self.by_stem[division.level, name_stem(division.level, division.name)].append(division)

    @staticmethod
    def _load() -> list[_Division]:
        rows = [_Division("county", c, n) for c, n in County.objects.values_list("code", "name")]
        rows += [_Division("town", c, n) for c, n in Town.objects.values_list("code", "name")]
        villages = Village.objects.values_list("code", "name", "town_id")
        return rows + [_Division("village", c, n, t) for c, n, t in villages]

    def find_code(self, code: str, levels: tuple[str, ...]) -> list[_Division]:
        return [d for d in self.by_code.get(code, []) if d.level in levels]

    def find_name(self, name: str, levels: tuple[str, ...], town: str = "") -> list[_Division]:
        """Exact names first; only if none matches, names without their suffix."""
        for index, key_of in ((self.by_name, _same), (self.by_stem, name_stem)):
            found = [
                d
                for level in levels
                for d in index.get((level, key_of(level, name)), [])
                if not town or d.town == town
            ]
            if found:
                return found
        return []


def _same(_level: str, name: str) -> str:
    return name


def name_stem(level: str, name: str) -> str:
    name = name.strip()
    for suffix in NAME_SUFFIXES[level]:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _match_features(
    frame: geopandas.GeoDataFrame,
    fields: _Fields,
    level: str,
    geometries: dict[int, BaseGeometry],
    result: BoundaryImportResult,
) -> dict[tuple[str, str], list[tuple[FeatureRef, BaseGeometry]]]:
    directory = _Directory()
    groups: dict[tuple[str, str], list[tuple[FeatureRef, BaseGeometry]]] = defaultdict(list)
    for index, geom in geometries.items():
        try:
            division = _match_one(frame.iloc[index], fields, level, directory)
        except _Ambiguous as exc:
            result.ambiguous.append(_ref(frame, fields, index, str(exc)))
        except _NoMatch as exc:
            result.unmatched.append(_ref(frame, fields, index, str(exc)))
        else:
            groups[division.level, division.code].append((_ref(frame, fields, index), geom))
    return groups


class _NoMatch(Exception):
    pass


class _Ambiguous(_NoMatch):
    pass


def _match_one(row: pd.Series, fields: _Fields, level: str, directory: _Directory) -> _Division:
    code = normalise_code(row[fields.code]) if fields.code else ""
    levels = LEVELS if level == "auto" else (level,)
    if code:
        found = directory.find_code(code, levels)
        return _one_of(found, code, _("no division has code %(key)s"))
    name = _text(row[fields.name]) if fields.name else ""
    if not name:
        raise _NoMatch(_("neither a code nor a name"))
    town = _text(row[fields.town]) if fields.town else ""
    if not town:
        return _one_of(directory.find_name(name, levels), name, _("no division named %(key)s"))
    # A town column means the features are villages, looked up in that town only: village
    # names repeat across a county (金乡 has two 张庄村 and two 王庄村).
    town_code = _resolve_town(directory, town).code
    found = directory.find_name(name, ("village",), town_code)
    return _one_of(found, name, _("no village named %(key)s in that town"))


def _resolve_town(directory: _Directory, value: str) -> _Division:
    code = normalise_code(value)
    if code.isdigit():
        return _one_of(directory.find_code(code, ("town",)), value, _("no town %(key)s"))
    return _one_of(directory.find_name(value, ("town",)), value, _("no town %(key)s"))


def _one_of(found: list[_Division], key: str, missing: str) -> _Division:
    if len(found) == 1:
        return found[0]
    if not found:
        raise _NoMatch(missing % {"key": key})
    raise _Ambiguous(
        _("“%(key)s” fits %(count)d divisions: %(divisions)s")
        % {
            "key": key,
            "count": len(found),
            "divisions": "; ".join(f"{d.code} {d.name}" for d in found),
        }
    )


def _ref(
    frame: geopandas.GeoDataFrame, fields: _Fields, index: int, reason: str = ""
) -> FeatureRef:
    row = frame.iloc[index]
    return FeatureRef(
        index=index,
        code=normalise_code(row[fields.code]) if fields.code else "",
        name=_text(row[fields.name]) if fields.name else "",
        reason=reason,
    )


# --- writing ----------------------------------------------------------------------------------


def _compare_with_stored(
    shapes: dict[tuple[str, str], _Shape], result: BoundaryImportResult
) -> dict[str, dict[str, _Shape]]:
    """Level → code → shape, for the divisions whose stored geometry differs (one query per
    level). A point leaves the stored boundary as it is, so only its centre is compared."""
    changed: dict[str, dict[str, _Shape]] = {}
    for level in LEVELS:
        wanted = {code: shape for (lvl, code), shape in shapes.items() if lvl == level}
        stored = {
            row[0]: row[1:]
            for row in LEVEL_MODELS[level]
            .objects.filter(code__in=wanted)
            .values_list("code", "boundary", "centroid_lng", "centroid_lat")
        }
        changed[level] = {}
        for code, shape in wanted.items():
            boundary, lng, lat = stored[code]
            same_boundary = shape.boundary is None or shape.boundary == boundary
            if same_boundary and (lng, lat) == (shape.lng, shape.lat):
                result.unchanged[level] += 1
            else:
                result.updated[level] += 1
                changed[level][code] = shape
    return changed


def _write(changed: dict[str, dict[str, _Shape]]) -> None:
    now = timezone.now()
    centre_fields = ["centroid_lng", "centroid_lat", "geo_updated_at"]
    with transaction.atomic():
        for level, shapes in changed.items():
            model = LEVEL_MODELS[level]
            outlines, points = [], []
            for code, shape in shapes.items():
                row = model(
                    code=code,
                    boundary=shape.boundary,
                    centroid_lng=shape.lng,
                    centroid_lat=shape.lat,
                    geo_updated_at=now,
                )
                (points if shape.boundary is None else outlines).append(row)
            model.objects.bulk_update(outlines, ["boundary", *centre_fields], batch_size=BATCH)
            model.objects.bulk_update(points, centre_fields, batch_size=BATCH)

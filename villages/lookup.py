"""Point → village / town / county, for GPS positions from phones (WGS-84).

The stored boundaries are loaded once per process into shapely STRtrees. Each call first asks
the database for a tiny fingerprint of the geometry — per level the row count, how many rows
have a `geo_updated_at` and the latest one: one UNION query of three aggregates — and rebuilds
the trees only when it changed. That costs one small round trip per call (2–4 ms on SQLite with
every village outlined) instead of the ~0.5 s a rebuild takes, keeps every gunicorn worker and
django-q2 process right after an import made by another process, and needs no cross-process
invalidation. The counts catch what the latest timestamp misses: deleted rows, and geometry
cleared together with its timestamp.

Anything that changes a stored geometry must set `geo_updated_at` (the boundary importer
does). Names are cached with the shapes; a renamed division shows its old name until the next
geometry change or restart — the codes are what callers should store.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Count, Max, Value
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from villages.geo import distance_m
from villages.models import County, Town, Village

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

CONTAINS = "contains"  # the village's (or, with no village near, the town's) polygon
NEAREST = "nearest"  # no polygon: the nearest village centre within the distance limit
COUNTY = "county"  # only the county outline contains the point


@dataclass(frozen=True)
class Place:
    code: str
    name: str


@dataclass(frozen=True)
class Location:
    county: Place
    town: Place | None
    village: Place | None
    method: str
    distance_m: float | None = None  # to the village centre, when method == NEAREST

    @property
    def approximate(self) -> bool:
        return self.method == NEAREST


def locate(*, lng: float, lat: float) -> Location | None:
    """Where a WGS-84 position is. None when it is outside every stored outline and farther
    than VILLAGE_LOOKUP_MAX_DISTANCE_M from every village centre."""
    if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
        raise ValueError(f"not a WGS-84 position: {lng!r}, {lat!r}")
    return _current_index().locate(lng, lat)


def reset_cache() -> None:
    global _index
    with _lock:
        _index = None


# --- the cached index -------------------------------------------------------------------------


class _Areas:
    """Polygons of one level in an STRtree; where several contain a point (overlapping
    digitisations along a shared border, a natural village inside its administrative
    village) the smallest wins, being the most specific."""

    def __init__(self, shapes: dict[str, BaseGeometry]):
        self.codes = list(shapes)
        geoms = list(shapes.values())
        self.areas = np.array([g.area for g in geoms])
        self.tree = STRtree(geoms)

    def containing(self, point: Point) -> str | None:
        # "intersects" rather than "within": a point exactly on a border still belongs.
        hits = self.tree.query(point, predicate="intersects")
        if len(hits) == 0:
            return None
        return self.codes[hits[np.argmin(self.areas[hits])]]


class _Centres:
    """Village centres as arrays. Nearest by haversine over all of them (a few thousand at
    most) rather than STRtree.nearest, whose planar degrees would weigh a degree of longitude
    like one of latitude (18 % shorter at 35°N) and could pick the wrong village."""

    def __init__(self, rows: list[tuple[str, str, float, float]]):
        self.codes = [code for code, _town, _lng, _lat in rows]
        self.towns = np.array([town for _code, town, _lng, _lat in rows], dtype=object)
        self.lng = np.array([lng for *_rest, lng, _lat in rows], dtype=float)
        self.lat = np.array([lat for *_rest, lat in rows], dtype=float)

    def nearest(self, lng: float, lat: float, town: str | None) -> tuple[str, float] | None:
        if not self.codes:
            return None
        distances = distance_m(lng, lat, self.lng, self.lat)
        if town is not None:
            distances = np.where(self.towns == town, distances, np.inf)
        best = int(np.argmin(distances))
        if not np.isfinite(distances[best]):
            return None
        return self.codes[best], float(distances[best])


class _Index:
    def __init__(self, key: tuple) -> None:
        self.key = key
        self.counties: dict[str, Place] = {}
        self.towns: dict[str, tuple[Place, str]] = {}  # code → (place, county code)
        self.villages: dict[str, tuple[Place, str]] = {}  # code → (place, town code)
        county_shapes = self._load_counties()
        town_shapes = self._load_towns()
        village_shapes, centres = self._load_villages()
        self.county_areas = _Areas(county_shapes)
        self.town_areas = _Areas(town_shapes)
        self.village_areas = _Areas(village_shapes)
        self.centres = _Centres(centres)

    def _load_counties(self) -> dict[str, BaseGeometry]:
        shapes = {}
        for code, name, boundary in County.objects.values_list("code", "name", "boundary"):
            self.counties[code] = Place(code, name)
            if (geom := _polygon(code, boundary)) is not None:
                shapes[code] = geom
        return shapes

    def _load_towns(self) -> dict[str, BaseGeometry]:
        shapes = {}
        rows = Town.objects.values_list("code", "name", "county_id", "boundary")
        for code, name, county, boundary in rows:
            self.towns[code] = (Place(code, name), county)
            if (geom := _polygon(code, boundary)) is not None:
                shapes[code] = geom
        return shapes

    def _load_villages(self) -> tuple[dict[str, BaseGeometry], list]:
        shapes, centres = {}, []
        fields = ("code", "name", "town_id", "boundary", "centroid_lng", "centroid_lat")
        for code, name, town, boundary, lng, lat in Village.objects.values_list(*fields):
            self.villages[code] = (Place(code, name), town)
            geom = _polygon(code, boundary)
            if geom is not None:
                shapes[code] = geom
            if lng is None or lat is None:
                if geom is None:
                    continue
                lng, lat = geom.representative_point().coords[0]
            centres.append((code, town, lng, lat))
        return shapes, centres

    def locate(self, lng: float, lat: float) -> Location | None:
        point = Point(lng, lat)
        village = self.village_areas.containing(point)
        if village is not None:
            return self._at_village(village, CONTAINS)
        # Outside every village polygon. A town polygon holding the point keeps the nearest
        # village inside that town, so the answer never pairs a town with another's village.
        town = self.town_areas.containing(point)
        limit = settings.VILLAGE_LOOKUP_MAX_DISTANCE_M
        near = self.centres.nearest(lng, lat, town)
        if near is not None and near[1] <= limit:
            return self._at_village(near[0], NEAREST, distance=near[1])
        if town is not None:
            return self._at_town(town)
        county = self.county_areas.containing(point)
        if county is not None:
            return Location(self.counties[county], None, None, COUNTY)
        return None

    def _at_village(self, code: str, method: str, distance: float | None = None) -> Location:
        place, town = self.villages[code]
        town_place, county = self.towns[town]
        distance = None if distance is None else round(distance, 1)
        return Location(self.counties[county], town_place, place, method, distance)

    def _at_town(self, code: str) -> Location:
        place, county = self.towns[code]
        return Location(self.counties[county], place, None, CONTAINS)


def _polygon(code: str, boundary: dict | None) -> BaseGeometry | None:
    """A stored boundary as a shape; a malformed one is logged and skipped, not fatal: one bad
    row must not stop every patrol from being located."""
    if not boundary:
        return None
    try:
        geom = shape(boundary)
    except (KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        logger.warning("Unreadable boundary of %s skipped by the point lookup", code)
        return None
    return geom if not geom.is_empty and geom.geom_type in ("Polygon", "MultiPolygon") else None


def _fingerprint() -> tuple:
    """Per level: rows, rows with a geometry date, latest geo_updated_at — for the three
    levels in one query. Only `geo_updated_at` is read, never the bulky boundary column."""
    parts = [
        model.objects.order_by()
        .annotate(geo_level=Value(label))
        .values("geo_level")
        .annotate(rows=Count("pk"), dated=Count("geo_updated_at"), latest=Max("geo_updated_at"))
        .values_list("geo_level", "rows", "dated", "latest")
        for label, model in (("county", County), ("town", Town), ("village", Village))
    ]
    return tuple(sorted(parts[0].union(*parts[1:], all=True), key=lambda row: row[0]))


_index: _Index | None = None
_lock = threading.Lock()


def _current_index() -> _Index:
    global _index
    key = _fingerprint()
    index = _index
    if index is not None and index.key == key:
        return index
    # One rebuild at a time; the fingerprint is read before the rows, so a write landing in
    # between leaves an index that looks older than it is and is rebuilt on the next call —
    # never one that looks newer than its data.
    with _lock:
        if _index is None or _index.key != key:
            _index = _Index(key)
        return _index

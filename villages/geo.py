"""Coordinate helpers: GCJ-02 ⇄ WGS-84 and great-circle distances.

Chinese web maps (AMap/Gaode, Tencent, and boundary files scraped from them) publish GCJ-02
("Mars" coordinates): WGS-84 shifted by a deliberately irregular offset of a few hundred metres.
We store WGS-84 only (phones report it), so anything in GCJ-02 is converted on import.

The forward formula below is the public, reverse-engineered one (Krasovsky ellipsoid plus two
trigonometric "noise" polynomials); it reproduces the official transform to ~1 m. The inverse
has no closed form, so it is solved by fixed-point iteration instead of the common one-step
subtraction, which leaves errors of ~1 m.

Every conversion function takes Python floats or numpy arrays (element-wise), so whole
geometries go through `shapely.transform` in one vectorised call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np
import shapely

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

# Krasovsky 1940 ellipsoid, which the GCJ-02 formula is built on.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
# Mean Earth radius (IUGG): the haversine error against the ellipsoid stays under 0.5 %.
EARTH_RADIUS_M = 6371008.8
# The formula only applies inside this rough box around China; outside, maps publish WGS-84.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)  # min lng, min lat, max lng, max lat
# 1e-9 degree is ~0.1 mm: far below any survey precision, and reached in 3–5 iterations.
INVERSE_TOLERANCE_DEG = 1e-9
INVERSE_MAX_ITERATIONS = 30

Number = TypeVar("Number", float, np.ndarray)


def out_of_china(lng: Number, lat: Number) -> bool | np.ndarray:
    min_lng, min_lat, max_lng, max_lat = CHINA_BBOX
    return (lng < min_lng) | (lng > max_lng) | (lat < min_lat) | (lat > max_lat)


def _transform_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _offset(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (degrees) to add to a WGS-84 position; zero outside China."""
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = np.radians(lat)
    magic = 1.0 - KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlng = (dlng * 180.0) / (KRASOVSKY_A / sqrt_magic * np.cos(radlat) * np.pi)
    outside = out_of_china(lng, lat)
    return np.where(outside, 0.0, dlng), np.where(outside, 0.0, dlat)


def _as_input(value: Number) -> np.ndarray:
    return np.asarray(value, dtype=float)


def _as_output(value: np.ndarray, like: Number) -> Number:
    """Floats in, floats out: callers storing a value in a FloatField want a plain float."""
    return float(value) if np.ndim(like) == 0 else value


def wgs84_to_gcj02(lng: Number, lat: Number) -> tuple[Number, Number]:
    x, y = _as_input(lng), _as_input(lat)
    dlng, dlat = _offset(x, y)
    return _as_output(x + dlng, lng), _as_output(y + dlat, lat)


def gcj02_to_wgs84(lng: Number, lat: Number) -> tuple[Number, Number]:
    """Solve wgs84_to_gcj02(w) = g for w. The offset changes by only ~1e-5 of a degree per
    degree moved, so the iteration w ← w − (forward(w) − g) contracts very fast."""
    g_lng, g_lat = _as_input(lng), _as_input(lat)
    w_lng, w_lat = g_lng.copy(), g_lat.copy()
    # Each element stops on its own, so a point gives bit-for-bit the same answer alone or in
    # an array (and a NaN, whose step never compares >= tol, stops at once).
    active = np.ones(g_lng.shape, dtype=bool)
    for _ in range(INVERSE_MAX_ITERATIONS):
        f_lng, f_lat = wgs84_to_gcj02(w_lng, w_lat)
        step_lng, step_lat = f_lng - g_lng, f_lat - g_lat
        w_lng = np.where(active, w_lng - step_lng, w_lng)
        w_lat = np.where(active, w_lat - step_lat, w_lat)
        active &= (np.abs(step_lng) >= INVERSE_TOLERANCE_DEG) | (
            np.abs(step_lat) >= INVERSE_TOLERANCE_DEG
        )
        if not active.any():
            break
    return _as_output(w_lng, lng), _as_output(w_lat, lat)


def distance_m(lng1: Number, lat1: Number, lng2: Number, lat2: Number) -> Number:
    """Great-circle (haversine) distance in metres; broadcasts like numpy."""
    phi1, phi2 = np.radians(_as_input(lat1)), np.radians(_as_input(lat2))
    dphi = phi2 - phi1
    dlmb = np.radians(_as_input(lng2) - _as_input(lng1))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    # clip: rounding can push h a hair above 1 for antipodal points, and arcsin(>1) is NaN.
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


def _coords_gcj02_to_wgs84(coords: np.ndarray) -> np.ndarray:
    lng, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lng, lat])


def _coords_wgs84_to_gcj02(coords: np.ndarray) -> np.ndarray:
    lng, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lng, lat])


Geometry = TypeVar("Geometry", bound="BaseGeometry")


def geometry_gcj02_to_wgs84(geom: Geometry) -> Geometry:
    """Every vertex of a shapely geometry (x = lng, y = lat) from GCJ-02 to WGS-84; Z dropped."""
    return shapely.transform(geom, _coords_gcj02_to_wgs84)


def geometry_wgs84_to_gcj02(geom: Geometry) -> Geometry:
    """The reverse, e.g. to draw stored boundaries on an AMap/Gaode base map."""
    return shapely.transform(geom, _coords_wgs84_to_gcj02)

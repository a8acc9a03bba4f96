"""Coordinate reference systems: any EPSG code through pyproj, plus China's GCJ-02 and BD-09.

GCJ-02 ("Mars coordinates", used by Amap/Tencent maps and most Chinese phone SDKs) and
BD-09 (Baidu) are not EPSG systems: they are obfuscations of WGS84 with a published
forward formula. The inverse is not closed-form; we iterate the forward formula until the
residual is below a micro-metre, so a round trip stays far inside 0.5 m. The PyPI
packages implementing them (eviltransform, coord-convert) are unmaintained since
2018/2019; the formula is thirty lines, so it lives here with reference-vector tests.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from gis_core.platform.errors import UnknownCRSError

WGS84 = 4326
CGCS2000 = 4490

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


@dataclass(frozen=True)
class CrsSpec:
    """A parsed CRS: an EPSG code, or one of the Chinese obfuscated systems."""

    kind: str  # "epsg" | "gcj02" | "bd09"
    epsg: int | None = None

    @property
    def label(self) -> str:
        """Human-readable identifier, e.g. `EPSG:4490` or `GCJ-02`."""
        if self.kind == "epsg":
            return f"EPSG:{self.epsg}"
        return {"gcj02": "GCJ-02", "bd09": "BD-09"}[self.kind]


_ALIASES = {
    "wgs84": CrsSpec("epsg", WGS84),
    "wgs-84": CrsSpec("epsg", WGS84),
    "crs84": CrsSpec("epsg", WGS84),
    "ogc:crs84": CrsSpec("epsg", WGS84),
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": CrsSpec("epsg", WGS84),
    "cgcs2000": CrsSpec("epsg", CGCS2000),
    "gcj02": CrsSpec("gcj02"),
    "gcj-02": CrsSpec("gcj02"),
    "bd09": CrsSpec("bd09"),
    "bd-09": CrsSpec("bd09"),
}
_EPSG_PATTERNS = (
    re.compile(r"^(?:epsg:)?(\d{4,6})$"),
    re.compile(r"^https?://www\.opengis\.net/def/crs/epsg/0/(\d{4,6})$"),
    re.compile(r"^urn:ogc:def:crs:epsg::(\d{4,6})$"),
)


@lru_cache(maxsize=256)
def parse_crs(text: str | int | None, where: str = "crs") -> CrsSpec:
    """Parse a CRS identifier; `None` or empty means WGS84.

    Accepts `EPSG:4490`, `4490`, OGC URIs/URNs, `CRS84`, `WGS84`, `CGCS2000`, `GCJ-02`, `BD-09`.

    Examples
    --------
    >>> parse_crs("EPSG:4490").label
    'EPSG:4490'
    >>> parse_crs("gcj02").label
    'GCJ-02'
    """
    if text is None or text == "":
        return CrsSpec("epsg", WGS84)
    key = str(text).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    for pattern in _EPSG_PATTERNS:
        m = pattern.match(key)
        if m:
            code = int(m.group(1))
            try:
                pyproj.CRS.from_epsg(code)
            except CRSError as exc:
                raise UnknownCRSError(f"EPSG:{code} is not a known CRS", where=where) from exc
            return CrsSpec("epsg", code)
    raise UnknownCRSError(f"{text!r} is not a recognised CRS identifier", where=where)


@lru_cache(maxsize=64)
def transformer(src_epsg: int, dst_epsg: int) -> pyproj.Transformer:
    """A cached pyproj transformer in lon/lat (x/y) axis order."""
    return pyproj.Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the rough bounding box where GCJ-02 offsets are applied."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _china_mask(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def wgs84_to_gcj02(lon, lat):  # type: ignore[no-untyped-def]
    """WGS84 → GCJ-02 (scalars or arrays); points outside China are returned unchanged."""
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    inside = _china_mask(lon_a, lat_a)
    return _like(lon, np.where(inside, lon_a + dlon, lon_a)), _like(
        lat, np.where(inside, lat_a + dlat, lat_a)
    )


def gcj02_to_wgs84(lon, lat, tol_deg: float = 1e-11, max_iter: int = 30):  # type: ignore[no-untyped-def]
    """GCJ-02 → WGS84 by fixed-point iteration of the forward formula (error ≪ 1 mm)."""
    g_lon, g_lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = np.asarray(f_lon) - g_lon, np.asarray(f_lat) - g_lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if np.all(np.abs(e_lon) < tol_deg) and np.all(np.abs(e_lat) < tol_deg):
            break
    return _like(lon, w_lon), _like(lat, w_lat)


def gcj02_to_bd09(lon, lat):  # type: ignore[no-untyped-def]
    """GCJ-02 → BD-09 (closed form)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _like(lon, z * np.cos(theta) + 0.0065), _like(lat, z * np.sin(theta) + 0.006)


def bd09_to_gcj02(lon, lat):  # type: ignore[no-untyped-def]
    """BD-09 → GCJ-02 (the published approximate inverse)."""
    x, y = np.asarray(lon, dtype=float) - 0.0065, np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _like(lon, z * np.cos(theta)), _like(lat, z * np.sin(theta))


def _like(template, arr: np.ndarray):  # type: ignore[no-untyped-def]
    """Return a float for scalar input, an array otherwise."""
    return float(arr) if np.ndim(template) == 0 else arr


def to_wgs84(lon, lat, crs: CrsSpec | str | int | None = None):  # type: ignore[no-untyped-def]
    """Coordinates (scalars or arrays) in `crs` → WGS84 lon/lat.

    CGCS2000 (EPSG:4490) is taken as equal to WGS84, as DESIGN.md allows (centimetres).
    """
    spec = crs if isinstance(crs, CrsSpec) else parse_crs(crs)
    if spec.kind == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if spec.kind == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    if spec.epsg in (WGS84, CGCS2000):
        return lon, lat
    x, y = transformer(spec.epsg, WGS84).transform(lon, lat)  # type: ignore[arg-type]
    return x, y


def from_wgs84(lon, lat, crs: CrsSpec | str | int | None = None):  # type: ignore[no-untyped-def]
    """WGS84 lon/lat → coordinates in `crs` (the inverse of `to_wgs84`)."""
    spec = crs if isinstance(crs, CrsSpec) else parse_crs(crs)
    if spec.kind == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if spec.kind == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    if spec.epsg in (WGS84, CGCS2000):
        return lon, lat
    x, y = transformer(WGS84, spec.epsg).transform(lon, lat)  # type: ignore[arg-type]
    return x, y


def valid_lonlat(lon: float, lat: float) -> bool:
    """Whether a geographic coordinate is finite and inside [-180,180]×[-90,90]."""
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


def input_point(lon: float, lat: float, crs: str | None, where: str = "query") -> tuple[float, float]:
    """A request's point in `crs` → WGS84 lon/lat, or a 400 problem naming what is wrong.

    Geographic input must be a real lon/lat pair; projected input must land on the globe.
    """
    wlon, wlat = input_points(np.array([lon]), np.array([lat]), crs, where, indexed=False)
    return float(wlon[0]), float(wlat[0])


def input_points(
    lon: np.ndarray, lat: np.ndarray, crs: str | None, where: str = "body", indexed: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Many request points in `crs` → WGS84 arrays; a 400 problem names the first bad one.

    With `indexed`, the problem's location is `where[i]` for the i-th point.
    """
    from gis_core.platform.errors import InvalidInput

    spec = parse_crs(crs, where=f"{where}.crs")

    def bad(ok: np.ndarray, message: str) -> None:
        if not ok.all():
            k = int(np.argmin(ok))
            at = f"{where}[{k}]" if indexed else where
            raise InvalidInput(f"({lon[k]}, {lat[k]}) {message}", where=f"{at}.lon,lat")

    def lonlat_ok(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)  # type: ignore[no-any-return]

    geographic = spec.kind != "epsg" or spec.epsg in (WGS84, CGCS2000)
    if geographic:
        bad(lonlat_ok(lon, lat), "is not a longitude/latitude pair")
    else:
        bad(np.isfinite(lon) & np.isfinite(lat), "is not a pair of finite numbers")
    wlon, wlat = to_wgs84(lon, lat, spec)
    wlon, wlat = np.asarray(wlon, dtype=float), np.asarray(wlat, dtype=float)
    bad(lonlat_ok(wlon, wlat), f"in {spec.label} is outside the CRS's area")
    return wlon, wlat

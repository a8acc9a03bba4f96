"""CRS helpers against published reference vectors and round trips."""

import math

import numpy as np
import pytest

from gis_core.geo import crs
from gis_core.platform.errors import UnknownCRSError


def metres(lon1, lat1, lon2, lat2):
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# Reference vectors used across the public GCJ-02/BD-09 implementations (coordtransform,
# Hutool CoordinateUtilTest, eviltransform): input (116.404, 39.915).
def test_wgs84_to_gcj02_reference():
    lon, lat = crs.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_bd09_reference_both_ways():
    assert crs.gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12
    )
    assert crs.bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-12
    )


def test_wgs84_to_bd09_reference():
    lon, lat = crs.from_wgs84(116.404, 39.915, "BD-09")
    assert (lon, lat) == pytest.approx((116.41662724378733, 39.922699552216216), abs=1e-12)


def test_gcj02_inverse_beats_the_one_step_approximation():
    # the one-step inverse published with the formula gives (116.39775550083061, 39.91359571849836),
    # which is metres off; ours must map back onto the input exactly
    lon, lat = crs.gcj02_to_wgs84(116.404, 39.915)
    assert metres(lon, lat, 116.39775550083061, 39.91359571849836) < 5
    back = crs.wgs84_to_gcj02(lon, lat)
    assert metres(*back, 116.404, 39.915) < 1e-3


@pytest.mark.parametrize("system", ["GCJ-02", "BD-09", "EPSG:4550", "EPSG:3857", "EPSG:4490"])
def test_round_trip_under_half_a_metre(system):
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(121.6, 124.4, 300), rng.uniform(38.8, 42.9, 300)  # Liaoning
    x, y = crs.from_wgs84(lons, lats, system)
    lon2, lat2 = crs.to_wgs84(x, y, system)
    worst = max(metres(a, b, c, d) for a, b, c, d in zip(lons, lats, lon2, lat2))
    assert worst < 0.5


def test_gcj_offset_is_hundreds_of_metres_in_dandong():
    lon, lat = crs.wgs84_to_gcj02(124.39, 40.13)
    assert 100 < metres(124.39, 40.13, lon, lat) < 1000


def test_out_of_china_points_are_left_alone():
    assert crs.out_of_china(-0.1246, 51.5007)
    assert crs.wgs84_to_gcj02(-0.1246, 51.5007) == (-0.1246, 51.5007)
    assert crs.gcj02_to_wgs84(-122.4194, 37.7749) == pytest.approx((-122.4194, 37.7749))
    assert not crs.out_of_china(124.39, 40.13)


@pytest.mark.parametrize(
    "text,label",
    [
        (None, "EPSG:4326"),
        ("", "EPSG:4326"),
        ("4490", "EPSG:4490"),
        ("epsg:4550", "EPSG:4550"),
        ("http://www.opengis.net/def/crs/EPSG/0/3857", "EPSG:3857"),
        ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326"),
        ("CRS84", "EPSG:4326"),
        ("CGCS2000", "EPSG:4490"),
        ("gcj02", "GCJ-02"),
        ("BD-09", "BD-09"),
    ],
)
def test_parse_crs_accepts_common_spellings(text, label):
    assert crs.parse_crs(text).label == label


@pytest.mark.parametrize("text", ["EPSG:999999", "EPSG:0", "not-a-crs", "WGS85", "EPSG:4326;DROP"])
def test_parse_crs_rejects_unknown(text):
    with pytest.raises(UnknownCRSError):
        crs.parse_crs(text)


def test_projected_crs_is_gauss_kruger_123e():
    # EPSG:4550 = CGCS2000 / 3-degree Gauss-Kruger CM 123E: false easting 500 km on the meridian
    x, y = crs.from_wgs84(123.0, 40.0, "EPSG:4550")
    assert x == pytest.approx(500000.0, abs=1e-6)
    assert 4.42e6 < y < 4.44e6

"""Answers in the CRS a client asks for (OGC API Features Part 2), against pyproj and the published formulas."""

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gis_core.geo.crs import gcj02_to_bd09, wgs84_to_gcj02
from tests.conftest import assert_problem

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def _coords(feature):
    return shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))


def _by_id(body):
    return {f["id"]: f for f in body["features"]}


def _pyproj(epsg):
    """pyproj in the CRS's own axis order (EPSG's: latitude/northing first for 4490 and 4550)."""
    t = Transformer.from_crs("OGC:CRS84", epsg)
    return lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1]))


def _bd09(c):
    return np.column_stack(gcj02_to_bd09(*wgs84_to_gcj02(c[:, 0], c[:, 1])))


@pytest.mark.parametrize(
    "crs,expected,tolerance",
    [
        (EPSG.format(4490), _pyproj(4490), 1e-9),  # degrees: ~0.1 mm
        (EPSG.format(4550), _pyproj(4550), 0.01),  # metres
        (EPSG.format(3857), _pyproj(3857), 0.01),
        (EPSG.format(4326), _pyproj(4326), 1e-9),
        ("urn:x-onegrid:crs:bd-09", _bd09, 1e-9),
    ],
)
def test_items_in_another_crs_equal_the_transformed_wgs84_answer(client, auth, crs, expected, tolerance):
    plain = client.get("/collections/grid/items?limit=40", headers=auth())
    moved = client.get("/collections/grid/items", params={"limit": 40, "crs": crs}, headers=auth())
    assert plain.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    assert moved.headers["content-crs"] == f"<{crs}>"
    wgs, out = _by_id(plain.json()), _by_id(moved.json())
    assert wgs.keys() == out.keys() and len(out) >= 10
    for fid, f in wgs.items():
        assert np.abs(_coords(out[fid]) - expected(_coords(f))).max() <= tolerance


def test_one_item_and_spatial_queries_answer_in_the_crs_asked(client, auth, engine):
    gk = EPSG.format(4550)
    plain = client.get("/collections/cameras/items?limit=1", headers=auth()).json()["features"][0]
    x, y = plain["geometry"]["coordinates"]
    one = client.get(f"/collections/cameras/items/{plain['id']}", params={"crs": gk}, headers=auth())
    assert one.headers["content-crs"] == f"<{gk}>"
    assert one.json()["geometry"]["coordinates"] == pytest.approx(
        list(_pyproj(4550)(np.array([[x, y]]))[0]), abs=0.01
    )
    near = client.get("/api/v1/spatial/cameras/nearest", params={"lon": x, "lat": y, "n": 1, "out-crs": gk},
                      headers=auth())  # fmt: skip
    assert near.headers["content-crs"] == f"<{gk}>"
    assert near.json()["features"][0]["geometry"]["coordinates"] == pytest.approx(
        one.json()["geometry"]["coordinates"], abs=0.01
    )


def test_bbox_in_another_crs_selects_as_its_wgs84_box(client, auth):
    """bbox-crs: a box in the Gauss-Krüger zone (northing first) picks the grids a CRS84 box around it picks."""
    to_gk = Transformer.from_crs("OGC:CRS84", 4550)
    plain = client.get("/collections/grid/items?limit=1", headers=auth()).json()["features"][0]
    c = _coords(plain)
    x0, y0, x1, y1 = c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max()
    ring = shapely.segmentize(shapely.box(x0, y0, x1, y1), (x1 - x0) / 16)
    n, e = to_gk.transform(*shapely.get_coordinates(ring).T)
    box = f"{min(n)},{min(e)},{max(n)},{max(e)}"
    gk = client.get("/collections/grid/items", params={"bbox": box, "bbox-crs": EPSG.format(4550), "limit": 500},
                    headers=auth()).json()  # fmt: skip
    assert plain["id"] in _by_id(gk)
    wgs = client.get("/collections/grid/items", params={"bbox": f"{x0},{y0},{x1},{y1}", "limit": 500},
                     headers=auth()).json()  # fmt: skip
    assert _by_id(wgs).keys() <= _by_id(gk).keys()  # the GK box holds the WGS84 box (a little more)


def test_collections_list_their_crs_and_refuse_others(client, auth):
    grid = client.get("/collections/grid", headers=auth()).json()
    assert grid["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert {EPSG.format(c) for c in (4326, 4490, 4550, 3857)} <= set(grid["crs"])
    assert {"urn:x-onegrid:crs:gcj-02", "urn:x-onegrid:crs:bd-09"} <= set(grid["crs"])
    assert (
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"
        in client.get("/conformance").json()["conformsTo"]
    )
    for params, where in [
        ({"crs": EPSG.format(2000)}, "query.crs"),
        ({"crs": "EPSG:999999"}, "query.crs"),
        ({"bbox-crs": "nonsense", "bbox": "1,2,3,4"}, "query.bbox-crs"),
        ({"bbox-crs": EPSG.format(4550), "bbox": "4450000,600000,4440000,610000"}, "query.bbox"),
    ]:
        body = assert_problem(client.get("/collections/grid/items", params=params, headers=auth()), 400)
        assert body["where"] == where
    body = assert_problem(client.get("/api/v1/spatial/grid/nearest", params={"lon": 124.4, "lat": 40.1,
                                                                             "out-crs": "EPSG:2000"},
                                     headers=auth()), 400)  # fmt: skip
    assert body["where"] == "query.out-crs"

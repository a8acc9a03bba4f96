"""OGC API - Tiles: the tile matrix set, tilesets found from the collections, the same tiles, and GDAL reading them."""

from __future__ import annotations

import pytest

from tests.conftest import assert_problem
from tests.mvt import decode, tile_of

#: OGC 17-083r4 (TMS 2.0), Annex D, WebMercatorQuad: zoom 0's scale denominator and cell size.
Z0_SCALE, Z0_CELL = 559082264.0287178, 156543.0339280410


def test_the_tile_matrix_set_is_the_standards_webmercatorquad(client):
    listed = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad"]
    tms = client.get("/tileMatrixSets/WebMercatorQuad").json()
    m = {t["id"]: t for t in tms["tileMatrices"]}
    assert m["0"]["scaleDenominator"] == pytest.approx(Z0_SCALE, rel=1e-12)
    assert m["0"]["cellSize"] == pytest.approx(Z0_CELL, rel=1e-12)
    assert m["18"]["matrixWidth"] == 2**18 and m["18"]["cellSize"] == pytest.approx(Z0_CELL / 2**18)
    assert tms["crs"].endswith("/EPSG/0/3857") and m["0"]["pointOfOrigin"][1] == pytest.approx(
        20037508.3427892
    )
    assert_problem(client.get("/tileMatrixSets/WorldCRS84Quad"), 404)
    conf = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf


def test_a_collections_tileset_leads_to_the_same_tile_the_wall_reads(client, auth, spot):
    lon, lat, _ = spot
    coll = client.get("/collections/grid", headers=auth()).json()
    (link,) = [x for x in coll["links"] if x["rel"].endswith("tilesets-vector")]
    sets = client.get(link["href"], headers=auth()).json()["tilesets"]
    assert [s["dataType"] for s in sets] == ["vector"]
    meta = client.get(sets[0]["links"][0]["href"], headers=auth()).json()
    z = 14
    col, row = tile_of(lon, lat, z)
    (lim,) = [x for x in meta["tileMatrixSetLimits"] if x["tileMatrix"] == str(z)]
    assert lim["minTileCol"] <= col <= lim["maxTileCol"] and lim["minTileRow"] <= row <= lim["maxTileRow"]
    assert meta["tileMatrixSetLimits"][0]["tileMatrix"] == "10"  # the layer's own zooms
    (item,) = [x for x in meta["links"] if x["rel"] == "item"]
    url = item["href"].format(tileMatrix=z, tileRow=row, tileCol=col).replace("http://testserver", "")
    ogc = client.get(url, headers=auth())
    wall = client.get(f"/tiles/grid/{z}/{col}/{row}.pbf", headers=auth())
    assert ogc.status_code == wall.status_code == 200
    assert decode(ogc.content, z, col, row) == decode(wall.content, z, col, row)
    assert decode(ogc.content, z, col, row)["grid"]["features"]
    assert_problem(client.get(url.replace("WebMercatorQuad", "Other"), headers=auth()), 404)
    assert_problem(client.get("/collections/persons/tiles", headers=auth("citizen")), 403)

"""Mapbox Vector Tiles (WebMercatorQuad) built in PostGIS from layer definitions.

One SQL statement per tile, however many layers: each layer's `ST_AsMVT` is concatenated,
which is a valid MVT. The tile envelope (with its buffer) is transformed into the column's
SRID, never the column, so the GiST index is used. Each reader gets the columns and rows
their role allows, personal fields masked in SQL. Below a layer's `cluster_below` zoom its
points are merged into clusters with a `count`, never cut by a LIMIT: cluster cells are
1/8 of the tile, aligned so that each lies in exactly one tile, which alone shows it.
Identifiers come from the layer files; every value is a bound parameter.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User
from gis_core.platform.errors import InvalidInput, NotFound
from gis_core.platform.scope import ACT_AS_SQL, act_as_params
from gis_core.publishing.layers import Layer, get_layer, quote_ident

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
#: Half the width of the WebMercatorQuad square, in metres.
HALF = 20037508.342789244
#: Clusters per tile edge: a cluster cell is 1/8 of a tile (64 px at 512 px display).
CLUSTER_CELLS = 8


@dataclass(frozen=True)
class TileRequest:
    """A checked tile address and the layers asked for."""

    layers: tuple[Layer, ...]
    z: int
    x: int
    y: int

    @property
    def layer_ids(self) -> tuple[str, ...]:
        """The layer ids, in the order asked."""
        return tuple(layer.id for layer in self.layers)


def check_tile(z: int, x: int, y: int) -> None:
    """400 problems for a tile address outside WebMercatorQuad."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom {z} is outside 0–{MAX_ZOOM}", where="path.z")
    n = 1 << z
    if not 0 <= x < n:
        raise InvalidInput(f"x {x} is outside 0–{n - 1} at zoom {z}", where="path.x")
    if not 0 <= y < n:
        raise InvalidInput(f"y {y} is outside 0–{n - 1} at zoom {z}", where="path.y")


def tile_request(layer_ids: str, z: int, x: int, y: int, user: User) -> TileRequest:
    """The checked request: a valid address, known layers that `user` may read, published at `z`."""
    check_tile(z, x, y)
    names = [n for n in layer_ids.split(",") if n]
    if not names or len(names) != len(set(names)):
        raise InvalidInput("give one or more distinct layer ids, comma-separated", where="path.layers")
    layers = tuple(get_layer(n) for n in names)
    for layer in layers:
        layer.check_readable(user)
        if not layer.minzoom <= z <= layer.maxzoom:
            raise NotFound(
                f"layer {layer.id!r} is published for zooms {layer.minzoom}–{layer.maxzoom}", where="path.z"
            )
    return TileRequest(layers, z, x, y)


def tile_bounds_lonlat(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """The tile's (west, south, east, north) in degrees, grown by `margin` tile widths."""
    n = 1 << z

    def lon(px: float) -> float:
        return px / n * 360.0 - 180.0

    def lat(py: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))

    return lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin)


#: metres of web mercator in a degree of longitude (the sphere's circumference / 360)
MERCATOR_M_PER_DEGREE = 2 * HALF / 360


def _layer_sql(layer: Layer, i: int, user: User, req: TileRequest, params: dict[str, Any]) -> str:
    """The `ST_AsMVT` expression of one layer (alias b holds the envelopes)."""
    z = req.z
    src = f"FROM {layer.source} t, b WHERE t.{quote_ident(layer.geometry)} && b.env_src AND "
    src += layer.row_filter(user, params)
    geom = f"ST_Transform(t.{quote_ident(layer.geometry)}, 3857)"
    mvt = f"coalesce(ST_AsMVT(q, '{layer.id}', {EXTENT}, 'geom', 'fid'), ''::bytea)"
    if layer.clustered(z):
        cell = 2 * HALF / (1 << z) / CLUSTER_CELLS
        params[f"cell{i}"], params[f"half{i}"] = cell, cell / 2
        return (
            f"(SELECT {mvt} FROM ("
            f"SELECT row_number() OVER () AS fid, count(*)::int AS count, "
            f"ST_AsMVTGeom(ST_Centroid(ST_Collect(p.g)), b.env, {EXTENT}, {BUFFER}, true) AS geom "
            f"FROM (SELECT {geom} AS g {src}) p, b "
            f"GROUP BY ST_SnapToGrid(p.g, :half{i}, :half{i}, :cell{i}, :cell{i}), b.env "
            # the tile's own cells only (a cell's centre is half a cell inside its tile): the
            # buffer's points are its neighbour's to count, and counting them here too would
            # draw them twice with different counts
            f"HAVING ST_Intersects(ST_SnapToGrid(p.g, :half{i}, :half{i}, :cell{i}, :cell{i}), b.env)) q)"
        )
    tol = layer.tolerance(z) if layer.geometry_type != "point" else 0.0
    if tol > 0:
        # Douglas-Peucker keeping collapsed rings: ~3x cheaper than ST_SimplifyPreserveTopology,
        # and ST_AsMVTGeom makes the result valid; tolerances stay under a display pixel. Done in
        # lon/lat before projecting, so only the vertices kept are projected (a z10 grid tile over
        # a city of six districts: 3-4x faster), with the tolerance in degrees that move a vertex
        # at most `tol` web-mercator metres along either axis anywhere in the tile
        _, south, _, north = tile_bounds_lonlat(z, req.x, req.y, BUFFER / EXTENT)
        poleward = math.cos(math.radians(min(max(abs(south), abs(north)), 85.0)))
        geom = f"ST_Transform(ST_Simplify(t.{quote_ident(layer.geometry)}, :tol{i}, true), 3857)"
        params[f"tol{i}"] = tol * poleward / MERCATOR_M_PER_DEGREE
    cols = "".join(f", {expr} AS {quote_ident(name)}" for name, expr in layer.columns(user, in_tiles=True))
    return (
        f"(SELECT {mvt} FROM ("
        f"SELECT t.{quote_ident(layer.key)} AS fid{cols}, "
        f"ST_AsMVTGeom({geom}, b.env, {EXTENT}, {BUFFER}, true) AS geom {src}"
        f") q WHERE q.geom IS NOT NULL)"
    )


def tile_sql(req: TileRequest, user: User) -> tuple[str, dict[str, Any]]:
    """The one statement that renders `req` for `user`, and its parameters."""
    params: dict[str, Any] = {"z": req.z, "x": req.x, "y": req.y}
    parts = [_layer_sql(layer, i, user, req, params) for i, layer in enumerate(req.layers)]
    sql = (
        "WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env, "
        f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4326) AS env_src) "
        "SELECT " + " || ".join(parts)
    )
    return sql, params


def render(conn: sa.Connection, req: TileRequest, user: User) -> bytes:
    """The MVT bytes of a tile for `user` (empty when no feature falls in it).

    The statement timeout is the connection's: the server's tile pool opens its connections
    with the tile timeout, so a tile costs one round trip.
    """
    sql, params = tile_sql(req, user)
    # the user for row-level security goes in the same round trip: the tile pool autocommits,
    # and one query string is one implicit transaction, so the setting ends with it
    data = conn.execute(sa.text(f"{ACT_AS_SQL}; {sql}"), params | act_as_params(user)).scalar()
    return bytes(data or b"")


def cache_key(req: TileRequest, user: User) -> tuple[Any, ...] | None:
    """The server cache's key for `req` as `user` sees it; None when a layer is not cached."""
    if not all(layer.cache for layer in req.layers):
        return None
    return (req.layer_ids, req.z, req.x, req.y, tuple(layer.view_key(user) for layer in req.layers))


def etag(data: bytes) -> str:
    """A strong validator for a tile's bytes."""
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'

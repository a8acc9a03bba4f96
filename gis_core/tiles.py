"""Mapbox Vector Tiles (WebMercatorQuad) built in PostGIS from layer definitions.

One SQL statement per tile, however many layers: each layer's `ST_AsMVT` is concatenated,
which is a valid MVT. The tile envelope (with its buffer) is transformed into the column's
SRID, never the column, so the GiST index is used. Identifiers come from the layer files;
every value is a bound parameter.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from gis_core.errors import InvalidInput, NotFound
from gis_core.layers import Layer, get_layer

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22


def _quote(ident: str) -> str:
    if not ident.replace("_", "").isalnum():
        raise ValueError(f"bad identifier in a layer definition: {ident!r}")
    return f'"{ident}"'


def check_tile(z: int, x: int, y: int) -> None:
    """400 problems for a tile address outside WebMercatorQuad."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom {z} is outside 0–{MAX_ZOOM}", where="path.z")
    n = 1 << z
    if not 0 <= x < n:
        raise InvalidInput(f"x {x} is outside 0–{n - 1} at zoom {z}", where="path.x")
    if not 0 <= y < n:
        raise InvalidInput(f"y {y} is outside 0–{n - 1} at zoom {z}", where="path.y")


def resolve(layer_ids: str, z: int) -> list[Layer]:
    """The layers of a comma list, each checked to be published at zoom `z`."""
    names = [n for n in layer_ids.split(",") if n]
    if not names or len(names) != len(set(names)):
        raise InvalidInput("give one or more distinct layer ids, comma-separated", where="path.layers")
    layers = [get_layer(n) for n in names]
    for layer in layers:
        if not layer.minzoom <= z <= layer.maxzoom:
            raise NotFound(
                f"layer {layer.id!r} is published for zooms {layer.minzoom}–{layer.maxzoom}", where="path.z"
            )
    return layers


def tile_sql(layers: list[Layer], z: int) -> tuple[str, dict[str, float]]:
    """The one statement that renders `layers` for a tile at zoom `z`, and its extra parameters."""
    parts, params = [], {}
    for i, layer in enumerate(layers):
        cols = ", ".join(f"t.{_quote(f)}" for f in layer.fields)
        geom = f"ST_Transform(t.{_quote(layer.geometry)}, 3857)"
        tol = layer.tolerance(z) if layer.geometry_type != "point" else 0.0
        if tol > 0:
            # web-mercator metres are ~1.3 ground metres here: tolerances stay on the safe side
            geom = f"ST_SimplifyPreserveTopology({geom}, :tol{i})"
            params[f"tol{i}"] = tol
        parts.append(
            f"(SELECT coalesce(ST_AsMVT(q, '{layer.id}', {EXTENT}, 'geom', 'fid'), ''::bytea) FROM ("
            f"SELECT t.{_quote(layer.key)} AS fid, {cols}, "
            f"ST_AsMVTGeom({geom}, b.env, {EXTENT}, {BUFFER}, true) AS geom "
            f"FROM {_quote(layer.table)} t, b "
            f"WHERE t.{_quote(layer.geometry)} && b.env_src AND ({layer.where})"
            f") q WHERE q.geom IS NOT NULL)"
        )
    sql = (
        "WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env, "
        f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4326) AS env_src) "
        "SELECT " + " || ".join(parts)
    )
    return sql, params


def render(conn: sa.Connection, layer_ids: str, z: int, x: int, y: int, timeout_ms: int = 5000) -> bytes:
    """The MVT bytes of a tile (empty when no feature falls in it)."""
    check_tile(z, x, y)
    layers = resolve(layer_ids, z)
    sql, params = tile_sql(layers, z)
    conn.execute(sa.text("SELECT set_config('statement_timeout', :t, true)"), {"t": str(timeout_ms)})
    data = conn.execute(sa.text(sql), {"z": z, "x": x, "y": y, **params}).scalar()
    return bytes(data or b"")


def etag(data: bytes) -> str:
    """A strong validator for a tile's bytes."""
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'

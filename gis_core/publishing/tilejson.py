"""TileJSON 3.0 for a published layer, its field types read from the database's own catalogue."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gis_core.publishing.features import district_bounds
from gis_core.publishing.layers import Layer

_NUMBERS = ("integer", "bigint", "smallint", "real", "double precision", "numeric")


def _field_type(pg_type: str) -> str:
    """TileJSON's field type for a PostgreSQL type."""
    if pg_type == "boolean":
        return "Boolean"
    return "Number" if pg_type.startswith(_NUMBERS) else "String"


def tilejson(conn: sa.Connection, spec: Layer, base: str) -> dict[str, Any]:
    """What a map client needs to show the layer: tile URL (under `base`), zooms, bounds, fields, legend."""
    bounds = district_bounds(conn)
    types: dict[str, str] = {}
    if spec.table:
        types = dict(
            conn.execute(
                sa.text(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
                ),
                {"t": spec.table},
            ).all()
        )
    else:  # the layer's own SELECT, described without running it
        cols = ", ".join(f for f in spec.fields if f not in spec.sealed)
        sql = f"SELECT {cols} FROM {spec.source} t LIMIT 0"  # noqa: S608 - identifiers checked by Layer
        result = conn.execute(sa.text(sql))
        oids = {d[0]: d[1] for d in result.cursor.description} if result.cursor else {}
        types = {
            name: conn.execute(sa.text("SELECT format_type(:o, NULL)"), {"o": oid}).scalar_one()
            for name, oid in oids.items()
        }
    fields = {f: _field_type(types.get(f, "")) for f in spec.fields if f not in spec.sealed}
    if spec.cluster_below is not None:
        fields["count"] = "Number"
    return {
        "tilejson": "3.0.0",
        "name": spec.title_zh,
        "description": spec.title_en,
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": list(bounds) if bounds else [-180, -85.05, 180, 85.05],
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(spec.minzoom, 12)]
        if bounds
        else None,
        "vector_layers": [
            {
                "id": spec.id,
                "description": spec.title_zh,
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
                "fields": fields,
            }
        ],
        "legend": list(spec.legend),
    }

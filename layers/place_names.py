"""地名: one label point per street, community and grid, so that each name is written once.

A name drawn from the boundary layers themselves would repeat in every tile the polygon
touches; here each unit has one point (PostGIS's point on surface, inside even a concave
unit). Streets are named from zoom 10, communities from 12, grids from 14; CJK characters
are drawn with the wall's own font and the rest comes from `/fonts` (gis_core.publishing.glyphs).
"""

from gis_core.publishing.glyphs import FONT_STACK
from gis_core.publishing.layers import Layer

PLACES = (
    "SELECT row_number() OVER (ORDER BY level, code) AS id, * FROM ("
    " SELECT code, name, 'street' AS level, ST_PointOnSurface(geom) AS geom FROM street"
    " UNION ALL SELECT code, name, 'community', ST_PointOnSurface(geom) FROM community"
    " UNION ALL SELECT code, name, 'grid', ST_PointOnSurface(geom) FROM grid) u"
)

LAYER = Layer(
    id="place_names",
    title_zh="地名",
    title_en="Place names",
    sql=PLACES,
    watch=("street", "community", "grid"),
    geometry_type="point",
    fields=("code", "name", "level"),
    minzoom=10,
    maxzoom=20,
    cache=True,
    filter=[
        "any",
        ["==", ["get", "level"], "street"],
        ["all", ["==", ["get", "level"], "community"], [">=", ["zoom"], 12]],
        ["all", ["==", ["get", "level"], "grid"], [">=", ["zoom"], 14]],
    ],
    layout={
        "text-field": ["get", "name"],
        "text-font": [FONT_STACK],
        "text-size": ["match", ["get", "level"], "street", 16, "community", 14, 12],
        "text-padding": 4,
    },
    paint={"text-color": "#e8eef5", "text-halo-color": "#0b1d33", "text-halo-width": 1.5},
    legend=(
        {
            "label_zh": "街道、社区、网格名称",
            "label_en": "Street, community and grid names",
            "color": "#e8eef5",
        },
    ),
)

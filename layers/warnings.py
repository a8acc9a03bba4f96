"""预警: warnings not yet cleared."""

from gis_core.platform.auth import STAFF
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="warnings",
    title_zh="预警",
    title_en="Warnings",
    sql="SELECT id, rule, level, state, message, raised_at, grid_id, community_id, street_id, "
    "ST_PointOnSurface(geom) AS geom FROM warning WHERE state <> 'cleared'",
    watch=("warning",),
    geometry_type="point",
    fields=("rule", "level", "state", "message", "raised_at"),
    roles=STAFF,
    rows="jurisdiction",
    datetime="raised_at",
    minzoom=10,
    maxzoom=20,
    paint={
        "circle-color": [
            "match",
            ["get", "level"],
            "red",
            "#e74c3c",
            "orange",
            "#e67e22",
            "yellow",
            "#f1c40f",
            "#3498db",
        ],
        "circle-radius": 8,
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2,
    },
    legend=(
        {"label_zh": "红色预警", "label_en": "Red warning", "color": "#e74c3c"},
        {"label_zh": "橙色预警", "label_en": "Orange warning", "color": "#e67e22"},
        {"label_zh": "黄色预警", "label_en": "Yellow warning", "color": "#f1c40f"},
        {"label_zh": "蓝色预警", "label_en": "Blue warning", "color": "#3498db"},
    ),
)

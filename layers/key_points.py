"""重点点位: forest-fire, flood and other watched points."""

from gis_core.platform.auth import PLACE_WATCHERS
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="key_points",
    title_zh="重点点位",
    title_en="Key points",
    table="key_point",
    geometry_type="point",
    fields=("code", "name", "kind", "patrol_interval_h"),
    roles=PLACE_WATCHERS,
    minzoom=10,
    maxzoom=20,
    cache=True,
    paint={
        "circle-color": ["match", ["get", "kind"], "forest_fire", "#d35400", "flood", "#2471a3", "#7d3c98"],
        "circle-radius": 6,
    },
    legend=(
        {"label_zh": "森林防火点", "label_en": "Forest-fire point", "color": "#d35400"},
        {"label_zh": "防汛点", "label_en": "Flood point", "color": "#2471a3"},
        {"label_zh": "其他重点点位", "label_en": "Other key point", "color": "#7d3c98"},
    ),
)

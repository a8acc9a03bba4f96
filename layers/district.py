"""区 boundary."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="district",
    title_zh="区界",
    title_en="District",
    table="district",
    cache=True,
    geometry_type="polygon",
    fields=("code", "name"),
    minzoom=6,
    maxzoom=18,
    simplify_m={9: 60.0, 11: 15.0, 13: 4.0},
    paint={"line-color": "#c0392b", "line-width": 3},
    legend=({"label_zh": "区界", "label_en": "District boundary", "color": "#c0392b"},),
)

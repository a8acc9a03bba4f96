"""道路 (the pgRouting network)."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="roads",
    title_zh="道路",
    title_en="Roads",
    table="road",
    cache=True,
    geometry_type="line",
    fields=("name", "kind"),
    minzoom=11,
    maxzoom=20,
    simplify_m={13: 3.0},
    paint={"line-color": "#ffffff", "line-width": 2},
    legend=({"label_zh": "道路", "label_en": "Road", "color": "#ffffff"},),
)

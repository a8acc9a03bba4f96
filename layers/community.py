"""社区 / 村."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="community",
    title_zh="社区",
    title_en="Communities and villages",
    table="community",
    cache=True,
    geometry_type="polygon",
    fields=("code", "name", "kind"),
    minzoom=10,
    maxzoom=18,
    simplify_m={11: 10.0, 13: 3.0, 15: 1.0},
    paint={"line-color": "#2980b9", "line-width": 1.5},
    legend=({"label_zh": "社区/村界", "label_en": "Community / village boundary", "color": "#2980b9"},),
)

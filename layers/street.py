"""街道 / 镇."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="street",
    title_zh="街道",
    title_en="Streets and towns",
    table="street",
    cache=True,
    geometry_type="polygon",
    fields=("code", "name", "kind"),
    minzoom=8,
    maxzoom=18,
    simplify_m={10: 30.0, 12: 8.0, 14: 2.0},
    paint={"line-color": "#e67e22", "line-width": 2},
    legend=({"label_zh": "街道/镇界", "label_en": "Street / town boundary", "color": "#e67e22"},),
)

"""楼栋 footprints."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="buildings",
    title_zh="楼栋",
    title_en="Buildings",
    table="building",
    cache=True,
    geometry_type="polygon",
    fields=("code", "address", "use", "floors"),
    minzoom=14,
    maxzoom=20,
    simplify_m={15: 0.5},
    paint={"fill-color": "#95a5a6", "fill-opacity": 0.8},
    legend=({"label_zh": "楼栋", "label_en": "Building", "color": "#95a5a6"},),
)

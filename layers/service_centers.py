"""党群服务中心 at district, street and community level."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="service_centers",
    title_zh="党群服务中心",
    title_en="Party-and-people service centres",
    table="service_center",
    geometry_type="point",
    fields=("code", "name", "level", "circle_minutes"),
    minzoom=10,
    maxzoom=20,
    cache=True,
    paint={
        "circle-color": "#c0392b",
        "circle-radius": ["match", ["get", "level"], "district", 9, "street", 7, 5],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2,
    },
    legend=({"label_zh": "党群服务中心", "label_en": "Service centre", "color": "#c0392b"},),
)

"""党组织: the district's party organisations, from district committee to grid and enterprise branches."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="party_orgs",
    title_zh="党组织",
    title_en="Party organisations",
    table="party_org",
    geometry_type="point",
    fields=("code", "name", "level", "members"),
    minzoom=10,
    maxzoom=20,
    cache=True,
    visible=False,
    paint={
        "circle-color": "#d35400",
        "circle-radius": ["match", ["get", "level"], "district", 8, "street", 7, "community", 6, 4],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 1,
    },
    legend=({"label_zh": "党组织", "label_en": "Party organisation", "color": "#d35400"},),
)

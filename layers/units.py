"""实有单位: shops (商户) and other units in the buildings that house them; contacts masked for others."""

from gis_core.platform.auth import PLACE_WATCHERS
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="units",
    title_zh="实有单位",
    title_en="Shops and units",
    table="unit",
    geometry_type="point",
    fields=("code", "name", "kind", "industry", "contact_name", "contact_phone", "employees"),
    pii={"contact_name": "name", "contact_phone": "phone"},
    roles=PLACE_WATCHERS,
    minzoom=12,
    maxzoom=20,
    cluster_below=15,
    cache=True,
    visible=False,
    paint={
        "circle-color": [
            "match",
            ["get", "kind"],
            "shop",
            "#16a085",
            "enterprise",
            "#8e44ad",
            "school",
            "#2980b9",
            "#7f8c8d",
        ],
        "circle-radius": ["case", ["has", "count"], 9, 4],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 1,
    },
    legend=(
        {"label_zh": "商户", "label_en": "Shop", "color": "#16a085"},
        {"label_zh": "企业", "label_en": "Enterprise", "color": "#8e44ad"},
        {"label_zh": "学校", "label_en": "School", "color": "#2980b9"},
        {"label_zh": "其他单位", "label_en": "Other unit", "color": "#7f8c8d"},
    ),
)

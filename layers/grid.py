"""网格, filled by kind."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="grid",
    title_zh="网格",
    title_en="Grid cells",
    table="grid",
    cache=True,
    geometry_type="polygon",
    fields=("code", "name", "kind"),
    minzoom=10,
    maxzoom=20,
    simplify_m={11: 8.0, 13: 2.0, 15: 0.5},
    promote_id="code",  # the wall paints hotspots onto these tiles by grid code (feature state)
    paint={
        "fill-color": [
            "match",
            ["get", "kind"],
            "urban",
            "#f5cba7",
            "rural",
            "#abebc6",
            "enterprise",
            "#d7bde2",
            "school",
            "#aed6f1",
            "#dddddd",
        ],
        "fill-opacity": 0.45,
        "fill-outline-color": "#7f8c8d",
    },
    legend=(
        {"label_zh": "城市网格", "label_en": "Urban grid", "color": "#f5cba7"},
        {"label_zh": "农村网格", "label_en": "Rural grid", "color": "#abebc6"},
        {"label_zh": "企业网格", "label_en": "Enterprise grid", "color": "#d7bde2"},
        {"label_zh": "校园网格", "label_en": "School grid", "color": "#aed6f1"},
    ),
)

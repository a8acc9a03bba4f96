"""人口: residents at their building, for the people who serve them; personal data masked for others."""

from gis_core.platform.auth import AREA_READERS
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="persons",
    title_zh="人口",
    title_en="Residents",
    table="person",
    geometry_type="point",
    fields=("household_no", "name", "id_number", "phone", "gender", "residency", "care_tags", "risk_class"),
    pii={"name": "name", "id_number": "id_number", "phone": "phone"},
    sealed=("id_number", "phone"),  # encrypted at rest: in a feature, never in a tile
    roles=AREA_READERS,
    rows="jurisdiction",
    minzoom=16,
    maxzoom=20,
    cluster_below=18,
    paint={
        "circle-color": [
            "match",
            ["get", "risk_class"],
            "A",
            "#e74c3c",
            "B",
            "#e67e22",
            "C",
            "#f1c40f",
            "#27ae60",
        ],
        "circle-radius": ["case", ["has", "count"], 9, 3],
    },
    legend=(
        {"label_zh": "红色(A类)", "label_en": "Risk class A (red)", "color": "#e74c3c"},
        {"label_zh": "橙色(B类)", "label_en": "Risk class B (orange)", "color": "#e67e22"},
        {"label_zh": "黄色(C类)", "label_en": "Risk class C (yellow)", "color": "#f1c40f"},
        {"label_zh": "绿色(D类)", "label_en": "Risk class D (green)", "color": "#27ae60"},
    ),
)

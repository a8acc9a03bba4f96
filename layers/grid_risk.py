"""网格风险: residents per four-colour risk class in each grid, counts only, no personal data.

Counted under the reader's row-level security, so a grid worker's tile counts their own grids'
residents and an officer's their area's; the wall colours grids by their red (A) residents.
"""

from gis_core.platform.auth import AREA_READERS
from gis_core.publishing.layers import Layer

RISK_PER_GRID = (
    "SELECT g.id, g.code, g.name, g.geom, r.persons, r.risk_a, r.risk_b, r.risk_c, r.risk_d "
    "FROM grid g CROSS JOIN LATERAL (SELECT count(*) AS persons, "
    "count(*) FILTER (WHERE p.risk_class = 'A') AS risk_a, "
    "count(*) FILTER (WHERE p.risk_class = 'B') AS risk_b, "
    "count(*) FILTER (WHERE p.risk_class = 'C') AS risk_c, "
    "count(*) FILTER (WHERE p.risk_class = 'D') AS risk_d "
    "FROM person p WHERE p.grid_id = g.id) r"
)

LAYER = Layer(
    id="grid_risk",
    title_zh="网格风险人员",
    title_en="Residents by risk class per grid",
    sql=RISK_PER_GRID,
    watch=("grid", "person"),
    geometry_type="polygon",
    fields=("code", "name", "persons", "risk_a", "risk_b", "risk_c", "risk_d"),
    roles=AREA_READERS,
    visible=False,
    minzoom=10,
    maxzoom=18,
    simplify_m={11: 8.0, 13: 2.0, 15: 0.5},
    paint={
        "fill-color": ["step", ["get", "risk_a"], "#27ae60", 1, "#f1c40f", 3, "#e67e22", 6, "#e74c3c"],
        "fill-opacity": 0.55,
        "fill-outline-color": "#7f8c8d",
    },
    legend=(
        {"label_zh": "无红色人员", "label_en": "No class A resident", "color": "#27ae60"},
        {"label_zh": "红色 1–2 人", "label_en": "1–2 class A", "color": "#f1c40f"},
        {"label_zh": "红色 3–5 人", "label_en": "3–5 class A", "color": "#e67e22"},
        {"label_zh": "红色 6 人以上", "label_en": "6 or more class A", "color": "#e74c3c"},
    ),
)

"""网格事件负荷: grids filled by their live count of open incidents."""

from gis_core.incidents.workflow import OPEN_STATES, state_in
from gis_core.platform.auth import ANALYSTS
from gis_core.publishing.layers import Layer

# a state group's literals, no input
OPEN_PER_GRID = (
    "SELECT g.id, g.code, g.name, g.kind, g.geom, (SELECT count(*) FROM incident i "  # noqa: S608
    f"WHERE i.grid_id = g.id AND {state_in('i.state', OPEN_STATES)}) AS open_incidents FROM grid g"
)

LAYER = Layer(
    id="grid_load",
    title_zh="网格在办事件",
    title_en="Open incidents per grid",
    sql=OPEN_PER_GRID,
    watch=("grid", "incident"),
    geometry_type="polygon",
    fields=("code", "name", "kind", "open_incidents"),
    roles=ANALYSTS,
    visible=False,
    minzoom=10,
    maxzoom=18,
    simplify_m={11: 8.0, 13: 2.0, 15: 0.5},
    paint={
        "fill-color": [
            "step",
            ["get", "open_incidents"],
            "#eafaf1",
            1,
            "#fdebd0",
            3,
            "#f5b041",
            6,
            "#e74c3c",
        ],
        "fill-opacity": 0.6,
        "fill-outline-color": "#7f8c8d",
    },
    legend=(
        {"label_zh": "无在办事件", "label_en": "No open incident", "color": "#eafaf1"},
        {"label_zh": "1–2 件", "label_en": "1–2 open", "color": "#fdebd0"},
        {"label_zh": "3–5 件", "label_en": "3–5 open", "color": "#f5b041"},
        {"label_zh": "6 件以上", "label_en": "6 or more open", "color": "#e74c3c"},
    ),
)

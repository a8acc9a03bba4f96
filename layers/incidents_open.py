"""未办结事件: open incidents, and those awaiting the reporter's rating drawn apart."""

from gis_core.incidents.workflow import UNFINISHED_STATES, state_in
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="incidents_open",
    title_zh="在办事件",
    title_en="Open incidents",
    table="incident",
    geometry_type="point",
    fields=("code", "category_code", "state", "level", "reported_at", "due_at"),
    rows="incidents",
    datetime="reported_at",
    cluster_below=14,
    # the condition of the partial index incident_open_geom_gist (migration 0013), which a test
    # holds equal to this group
    where=state_in("t.state", UNFINISHED_STATES),
    minzoom=10,
    maxzoom=20,
    paint={
        # resolved (办结待评价) apart from the open ones; clusters count both
        "circle-color": ["case", ["==", ["get", "state"], "resolved"], "#27ae60", "#e74c3c"],
        "circle-radius": ["case", ["has", "count"], 12, 5],
    },
    legend=(
        {"label_zh": "在办事件", "label_en": "Open incident", "color": "#e74c3c"},
        {"label_zh": "办结待评价", "label_en": "Resolved, awaiting rating", "color": "#27ae60"},
    ),
)

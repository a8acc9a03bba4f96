"""未办结事件: open incidents."""

from gis_core.layers import Layer

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
    # the condition of the partial index incident_open_geom_gist (migration 0013): keep them equal
    where="t.state IN ('reported', 'accepted', 'dispatched', 'in_progress', 'suspended', 'resolved')",
    minzoom=10,
    maxzoom=20,
    paint={"circle-color": "#e74c3c", "circle-radius": ["case", ["has", "count"], 12, 5]},
    legend=({"label_zh": "在办事件", "label_en": "Open incident", "color": "#e74c3c"},),
)

"""视频探头 with bearing and field of view."""

from gis_core.platform.auth import STAFF
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="cameras",
    title_zh="视频探头",
    title_en="Cameras",
    table="camera",
    geometry_type="point",
    fields=("code", "name", "source_system", "preset_group", "bearing_deg", "fov_deg", "range_m", "online"),
    field_roles={"source_system": STAFF},
    minzoom=10,
    cluster_below=14,
    cache=True,
    maxzoom=20,
    paint={
        "circle-color": ["case", ["get", "online"], "#27ae60", "#7f8c8d"],
        "circle-radius": ["case", ["has", "count"], 10, 4],
    },
    legend=(
        {"label_zh": "在线探头", "label_en": "Camera online", "color": "#27ae60"},
        {"label_zh": "离线探头", "label_en": "Camera offline", "color": "#7f8c8d"},
    ),
)

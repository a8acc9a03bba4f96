"""视频探头可视范围: each camera's field-of-view wedge, at high zoom."""

from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="camera_fov",
    title_zh="探头可视范围",
    title_en="Camera fields of view",
    table="camera",
    geometry="fov_geom",
    geometry_type="polygon",
    fields=("code", "bearing_deg", "fov_deg", "range_m", "online"),
    minzoom=16,
    maxzoom=20,
    cache=True,
    paint={"fill-color": ["case", ["get", "online"], "#27ae60", "#7f8c8d"], "fill-opacity": 0.2},
    legend=({"label_zh": "探头可视范围", "label_en": "Camera field of view", "color": "#27ae60"},),
)

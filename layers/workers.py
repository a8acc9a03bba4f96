"""网格员位置: each grid worker's latest GPS fix."""

from gis_core.platform.auth import STAFF
from gis_core.platform.settings import get_settings
from gis_core.publishing.layers import Layer

# on duty: a fix newer than ONEGRID_ON_DUTY_MINUTES, as point-call and the tour count it; an
# older last position is drawn faded, not as a worker out there now (a setting, not input)
LATEST_FIXES = (
    "SELECT p.worker_id, w.code, w.name, w.phone, p.recorded_at, p.accuracy_m, "  # noqa: S608
    f"p.recorded_at > now() - interval '{int(get_settings().on_duty_minutes)} minutes' AS on_duty, "
    "p.grid_id, p.community_id, p.street_id, p.geom "
    "FROM worker_position p JOIN worker w ON w.id = p.worker_id WHERE w.active"
)

LAYER = Layer(
    id="workers",
    title_zh="网格员位置",
    title_en="Grid workers' last positions",
    sql=LATEST_FIXES,
    key="worker_id",
    watch=("worker_position",),
    geometry_type="point",
    fields=("code", "name", "phone", "recorded_at", "accuracy_m", "on_duty"),
    pii={"phone": "phone"},
    roles=STAFF,
    rows="jurisdiction",
    datetime="recorded_at",
    minzoom=10,
    maxzoom=20,
    cluster_below=13,
    paint={
        "circle-color": ["case", ["==", ["get", "on_duty"], False], "#95a5a6", "#16a085"],
        "circle-opacity": ["case", ["==", ["get", "on_duty"], False], 0.5, 1],
        "circle-radius": ["case", ["has", "count"], 10, 5],
    },
    legend=(
        {"label_zh": "在岗网格员", "label_en": "Grid worker on duty", "color": "#16a085"},
        {"label_zh": "不在岗（最后位置）", "label_en": "Off duty (last position)", "color": "#95a5a6"},
    ),
)

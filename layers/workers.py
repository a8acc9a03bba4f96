"""网格员位置: each grid worker's latest GPS fix."""

from gis_core.auth import STAFF
from gis_core.layers import Layer

LAYER = Layer(
    id="workers",
    title_zh="网格员位置",
    title_en="Grid workers' last positions",
    sql="SELECT p.worker_id, w.code, w.name, w.phone, p.recorded_at, p.accuracy_m, "
    "p.grid_id, p.community_id, p.street_id, p.geom "
    "FROM worker_position p JOIN worker w ON w.id = p.worker_id WHERE w.active",
    key="worker_id",
    watch=("worker_position",),
    geometry_type="point",
    fields=("code", "name", "phone", "recorded_at", "accuracy_m"),
    pii={"phone": "phone"},
    roles=STAFF,
    rows="jurisdiction",
    datetime="recorded_at",
    minzoom=10,
    maxzoom=20,
    cluster_below=13,
    paint={"circle-color": "#16a085", "circle-radius": ["case", ["has", "count"], 10, 5]},
    legend=({"label_zh": "网格员", "label_en": "Grid worker", "color": "#16a085"},),
)

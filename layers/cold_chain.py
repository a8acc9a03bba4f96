"""冷链企业、冷库与隔离酒店 (cold stores are footprints: shown at their point on surface)."""

from gis_core.platform.auth import PLACE_WATCHERS
from gis_core.publishing.layers import Layer

LAYER = Layer(
    id="cold_chain",
    title_zh="冷链场所",
    title_en="Cold-chain sites",
    sql="SELECT id, code, name, category, risk_level, grid_id, community_id, street_id, "
    "ST_PointOnSurface(geom) AS geom FROM cold_chain_site",
    watch=("cold_chain_site",),
    geometry_type="point",
    fields=("code", "name", "category", "risk_level"),
    roles=PLACE_WATCHERS,
    minzoom=10,
    maxzoom=20,
    cache=True,
    paint={
        "circle-color": ["match", ["get", "risk_level"], "high", "#c0392b", "medium", "#e67e22", "#f1c40f"],
        "circle-radius": 6,
        "circle-stroke-color": "#2c3e50",
        "circle-stroke-width": 1,
    },
    legend=(
        {"label_zh": "高风险冷链场所", "label_en": "Cold-chain site, high risk", "color": "#c0392b"},
        {"label_zh": "中风险冷链场所", "label_en": "Cold-chain site, medium risk", "color": "#e67e22"},
        {"label_zh": "低风险冷链场所", "label_en": "Cold-chain site, low risk", "color": "#f1c40f"},
    ),
)

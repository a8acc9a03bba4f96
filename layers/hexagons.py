"""六边形单元: the 250 m hexagons hotspots are counted in, as tiles the wall paints Gi* bins onto.

The same hexagons as `gis_core.incidents.hotspots` cuts for `unit=hex&hex_size=250`: PostGIS's
`ST_HexagonGrid` in the district's metric CRS, whose cells are fixed by size and origin, so a
hexagon's code (`H250_i_j`) is the same in the tiles and in the hotspot answer. The wall asks
`/api/v1/hotspots?unit=hex&geometry=false` and sets each hexagon's bin as feature state,
downloading no polygon.
"""

from gis_core.platform.settings import get_settings
from gis_core.publishing.layers import Layer

SIZE_M = 250
_EPSG = int(get_settings().projected_epsg)

# a fixed SELECT (no request input): hexagons over the district's box that meet the district
# (the union of a demo city's districts).
# The district is materialised once so that ST_Intersects reuses one prepared polygon: inlined,
# the test took 1.4 s for the district's 936 hexagons, materialised 6 ms.
HEXAGONS = (
    f"WITH d AS MATERIALIZED (SELECT ST_Transform(ST_Union(geom), {_EPSG}) AS m FROM district) "  # noqa: S608
    "SELECT (h.i::bigint << 32) | (h.j::bigint & 4294967295) AS id, "
    f"'H{SIZE_M}_' || h.i || '_' || h.j AS code, ST_Transform(h.geom, 4326) AS geom "
    f"FROM d, ST_HexagonGrid({SIZE_M}, ST_Envelope(d.m)) AS h WHERE ST_Intersects(d.m, h.geom)"
)

LAYER = Layer(
    id="hexagons",
    title_zh="六边形单元（250 米）",
    title_en="250 m hexagons",
    sql=HEXAGONS,
    watch=("district",),
    cache=True,
    geometry_type="polygon",
    fields=("code",),
    visible=False,
    minzoom=10,
    maxzoom=18,
    promote_id="code",  # the wall paints hexagon hotspots onto these tiles by code (feature state)
    paint={"fill-color": "rgba(0,0,0,0)", "fill-outline-color": "#95a5a6"},
    legend=({"label_zh": "250 米六边形", "label_en": "250 m hexagon", "color": "#95a5a6"},),
)

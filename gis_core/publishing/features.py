"""Features of published layers as GeoJSON: OGC API Features items and the spatial queries.

One query builder serves both. It always applies the layer's rules for the reader
(visible fields, masked personal data, rows of their jurisdiction) and then the request's
filters: bbox, datetime, property equality, and one spatial condition (within a radius in
metres, nearest N, within a polygon, within an administrative unit). Identifiers come from
the layer files; every value is a bound parameter.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import shapely
import sqlalchemy as sa

from gis_core.geo.crs import valid_lonlat
from gis_core.platform.auth import User
from gis_core.platform.clock import iso
from gis_core.platform.errors import Forbidden, InvalidInput, NotFound
from gis_core.platform.scope import area_clause
from gis_core.publishing.cql2_filter import Filter, compile_filter, field_kinds
from gis_core.publishing.layers import Layer, quote_ident
from gis_core.publishing.output_crs import OutputCrs, bbox_in, geometry_out

MAX_LIMIT = 10_000
#: Largest radius of a radius query: a district is about 15 km across.
MAX_RADIUS_M = 50_000.0
MAX_NEAREST = 1_000


def _degree_bound(lat: float, metres: float) -> float:
    """Degrees that surely cover `metres` around latitude `lat` (for an index prefilter)."""
    return metres / (111_000.0 * max(math.cos(math.radians(min(abs(lat) + 1.0, 89.9))), 1e-3))


@dataclass
class ItemQuery:
    """Filters and paging of one features request."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    properties: dict[str, str] = field(default_factory=dict)
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    filter: Filter | None = None  # CQL2 (Part 3)
    limit: int = 100
    offset: int = 0


def district_bounds(conn: sa.Connection) -> tuple[float, float, float, float] | None:
    """The district's (west, south, east, north) in degrees; None before any district is loaded."""
    row = conn.execute(
        sa.text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) e FROM district) d"
        )
    ).one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


def parse_bbox(
    text: str, where: str = "query.bbox", crs: OutputCrs | None = None
) -> tuple[float, float, float, float]:
    """`minLon,minLat,maxLon,maxLat` (or four numbers in `crs`, its axis order) → a checked WGS84 box."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise InvalidInput("bbox must be four numbers: minLon,minLat,maxLon,maxLat", where=where) from None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise InvalidInput("bbox must be four numbers: minLon,minLat,maxLon,maxLat", where=where)
    if crs is not None and not crs.is_crs84:
        parts = list(bbox_in((parts[0], parts[1], parts[2], parts[3]), crs, where))
    minx, miny, maxx, maxy = parts
    if not (valid_lonlat(minx, miny) and valid_lonlat(maxx, maxy)):
        raise InvalidInput("bbox corners must be longitude/latitude in degrees", where=where)
    if minx > maxx or miny > maxy:
        raise InvalidInput("bbox must be minLon,minLat,maxLon,maxLat with min ≤ max", where=where)
    return minx, miny, maxx, maxy


def _instant(text: str, where: str) -> datetime | None:
    if text in ("..", ""):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{text!r} is not an RFC 3339 date-time", where=where) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone (add Z or an offset)", where=where)
    return value


def parse_datetime(text: str, where: str = "query.datetime") -> tuple[datetime | None, datetime | None]:
    """An instant `T` or an interval `A/B` (either end may be `..`) → (start, end), both inclusive."""
    parts = text.split("/")
    if len(parts) == 1:
        t = _instant(parts[0], where)
        if t is None:
            raise InvalidInput("datetime needs a date-time or an interval", where=where)
        return t, t
    if len(parts) != 2:
        raise InvalidInput("datetime is an instant or start/end", where=where)
    start, end = _instant(parts[0], where), _instant(parts[1], where)
    if start and end and start > end:
        raise InvalidInput("datetime interval ends before it starts", where=where)
    return start, end


def parse_sortby(text: str, layer: Layer, user: User, where: str = "query.sortby") -> list[tuple[str, bool]]:
    """`+a,-b` → [(a, False), (b, True)], each a field the reader sees."""
    out = []
    visible = [f for f in layer.visible_fields(user) if f not in layer.sealed]  # ciphertext has no order
    for part in filter(None, (p.strip() for p in text.split(","))):
        desc, name = part.startswith("-"), part.lstrip("+-")
        if name not in visible:
            raise InvalidInput(f"cannot sort by {name!r}; fields: {', '.join(visible)}", where=where)
        out.append((name, desc))
    return out


def check_geometry(geojson: Any, where: str = "body.geometry") -> shapely.Geometry:
    """A valid (Multi)Polygon in lon/lat from GeoJSON; 400 problem naming what is wrong otherwise."""
    _check_rings(geojson, where)
    try:
        geom = shapely.geometry.shape(geojson)
    except Exception as exc:  # noqa: BLE001 - shapely raises many kinds for malformed input
        raise InvalidInput(f"not a GeoJSON geometry: {exc}", where=where) from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise InvalidInput(f"a Polygon or MultiPolygon is needed, not {geom.geom_type}", where=where)
    coords = shapely.get_coordinates(geom)
    if not all(valid_lonlat(x, y) for x, y in coords):
        raise InvalidInput("coordinates must be longitude/latitude in degrees", where=where)
    if not geom.is_valid:
        raise InvalidInput(
            f"invalid polygon: {shapely.is_valid_reason(geom)}",
            where=where,
            reason=shapely.is_valid_reason(geom),
        )
    return geom


def _check_rings(geojson: Any, where: str) -> None:
    """RFC 7946 §3.1.6: every ring closed, of four positions or more (shapely would close it silently)."""
    if not isinstance(geojson, dict):
        return
    kind, coords = geojson.get("type"), geojson.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
    if not isinstance(polygons, list):
        return
    for p, rings in enumerate(polygons):
        for r, ring in enumerate(rings if isinstance(rings, list) else []):
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                at = f"{where}.coordinates" + (f"[{p}]" if kind == "MultiPolygon" else "") + f"[{r}]"
                raise InvalidInput("a ring must be closed (last position = first) with at least 4 positions",
                                   where=at)  # fmt: skip


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return iso(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


@dataclass
class _Select:
    """A features query under construction."""

    layer: Layer
    user: User
    params: dict[str, Any] = field(default_factory=dict)
    conds: list[str] = field(default_factory=list)
    extra_cols: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conds.append(self.layer.row_filter(self.user, self.params))

    @property
    def geom(self) -> str:
        return f"t.{quote_ident(self.layer.geometry)}"

    def apply(self, q: ItemQuery, conn: sa.Connection) -> None:
        if q.bbox:
            self.conds.append(f"{self.geom} && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
            self.params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
        if q.interval:
            if not self.layer.datetime:
                raise InvalidInput(
                    f"layer {self.layer.id!r} has no time to filter on", where="query.datetime"
                )
            col = f"t.{quote_ident(self.layer.datetime)}"
            start, end = q.interval
            if start:
                self.conds.append(f"{col} >= :dt_start")
                self.params["dt_start"] = start
            if end:
                self.conds.append(f"{col} <= :dt_end")
                self.params["dt_end"] = end
        exprs = dict(self.layer.columns(self.user))
        for i, (name, value) in enumerate(sorted(q.properties.items())):
            if name in self.layer.sealed:
                self.conds.append(self._sealed_match(name, i, value))
                continue
            self.conds.append(f"({exprs[name]})::text = :prop{i}")
            self.params[f"prop{i}"] = value
        self.order += [f"{quote_ident(n)} {'DESC' if d else 'ASC'}" for n, d in q.sortby]
        if q.filter is not None:
            fields = field_kinds(conn, self.layer, self.user)
            self.conds.append(compile_filter(q.filter, fields, self.geom, self.params))

    def _sealed_match(self, name: str, i: int, value: str) -> str:
        """Exact match on a sealed field by its digest, for those who may see it unmasked."""
        from gis_core.platform.sealing import normal, sealer

        if self.user.role not in self.layer.pii_roles:
            raise Forbidden(f"role {self.user.role!r} may not search by {name!r}", where=f"query.{name}")
        self.params[f"prop{i}"] = sealer().digest(normal(self.layer.pii[name], value))
        return f"t.{quote_ident(name + '_digest')} = :prop{i}"

    def sql(self, limit: int, offset: int) -> str:
        cols = "".join(f", {expr} AS {quote_ident(n)}" for n, expr in self.layer.columns(self.user))
        extra = "".join(f", {c}" for c in self.extra_cols)
        order = ", ".join([*self.order, "fid"])
        self.params.update(limit=limit, offset=offset)
        return (
            f"SELECT t.{quote_ident(self.layer.key)} AS fid{cols}{extra}, "
            f"ST_AsGeoJSON({self.geom}, 7) AS geojson "
            f"FROM {self.layer.source} t WHERE {' AND '.join(self.conds)} "
            f"ORDER BY {order} LIMIT :limit OFFSET :offset"
        )

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {self.layer.source} t WHERE {' AND '.join(self.conds)}"


def _features(conn: sa.Connection, s: _Select, q: ItemQuery, crs: OutputCrs | None) -> list[dict[str, Any]]:
    rows = conn.execute(sa.text(s.sql(q.limit, q.offset)), s.params).mappings().all()
    out = []
    for row in rows:
        geometry = json.loads(row["geojson"])
        if crs is not None:
            geometry = geometry_out(geometry, crs)
        props = {k: v for k, v in row.items() if k not in ("fid", "geojson")}
        s.layer.reveal(s.user, props)
        props = {k: _json_value(v) for k, v in props.items()}
        out.append({"type": "Feature", "id": row["fid"], "geometry": geometry, "properties": props})
    return out


def items(
    conn: sa.Connection, layer: Layer, user: User, q: ItemQuery, crs: OutputCrs | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One page of the layer's features for `user`, and how many match in all."""
    layer.check_readable(user)
    s = _Select(layer, user)
    s.apply(q, conn)
    matched = conn.execute(sa.text(s.count_sql()), s.params).scalar_one()
    return _features(conn, s, q, crs), int(matched)


def item(
    conn: sa.Connection, layer: Layer, user: User, fid: str, crs: OutputCrs | None = None
) -> dict[str, Any]:
    """One feature by id; NotFound when absent or not the reader's to see."""
    layer.check_readable(user)
    s = _Select(layer, user)
    s.conds.append(f"t.{quote_ident(layer.key)}::text = :fid")
    s.params["fid"] = fid
    found = _features(conn, s, ItemQuery(limit=1), crs)
    if not found:
        raise NotFound(f"layer {layer.id!r} has no feature {fid!r}", where="path.featureId")
    return found[0]


def _point(s: _Select, lon: float, lat: float) -> str:
    s.params.update(qlon=lon, qlat=lat)
    return "ST_SetSRID(ST_MakePoint(:qlon, :qlat), 4326)"


def within_radius(
    conn: sa.Connection,
    layer: Layer,
    user: User,
    lon: float,
    lat: float,
    radius_m: float,
    q: ItemQuery,
    crs: OutputCrs | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Features within `radius_m` metres (on the ellipsoid) of a point, nearest first, with `distance_m`."""
    layer.check_readable(user)
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise InvalidInput(f"radius must be in (0, {MAX_RADIUS_M:.0f}] metres", where="query.radius")
    s = _Select(layer, user)
    s.apply(q, conn)
    pt = _point(s, lon, lat)
    s.params.update(radius=radius_m, radius_deg=_degree_bound(lat, radius_m))
    # the degree bound uses the GiST index; the geography test is exact
    s.conds.append(
        f"ST_DWithin({s.geom}, {pt}, :radius_deg) "
        f"AND ST_DWithin({s.geom}::geography, {pt}::geography, :radius)"
    )
    s.extra_cols.append(f"ST_Distance({s.geom}::geography, {pt}::geography) AS distance_m")
    s.order.insert(0, "distance_m")
    matched = conn.execute(sa.text(s.count_sql()), s.params).scalar_one()
    return _features(conn, s, q, crs), int(matched)


def nearest(
    conn: sa.Connection,
    layer: Layer,
    user: User,
    lon: float,
    lat: float,
    n: int,
    crs: OutputCrs | None = None,
) -> list[dict[str, Any]]:
    """The `n` features nearest to a point by distance on the ellipsoid, with `distance_m`.

    The index's nearest-neighbour order is in degrees, which is not metres away from the
    equator; so the n nearest by degrees give a radius that must hold the true n nearest,
    and the exact answer is taken inside it.
    """
    layer.check_readable(user)
    if not 1 <= n <= MAX_NEAREST:
        raise InvalidInput(f"n must be 1–{MAX_NEAREST}", where="query.n")
    s = _Select(layer, user)
    pt = _point(s, lon, lat)
    s.params["n"] = n
    reach = conn.execute(
        sa.text(
            f"SELECT max(ST_Distance(c.g::geography, {pt}::geography)) FROM ("
            f"SELECT {s.geom} AS g FROM {layer.source} t WHERE {' AND '.join(s.conds)} "
            f"ORDER BY {s.geom} <-> {pt} LIMIT :n) c"
        ),
        s.params,
    ).scalar()
    if reach is None:
        return []
    found, _ = within_radius(
        conn, layer, user, lon, lat, max(float(reach), 0.01) * 1.000001, ItemQuery(limit=n), crs
    )
    return found


def within_polygon(
    conn: sa.Connection,
    layer: Layer,
    user: User,
    polygon: shapely.Geometry,
    q: ItemQuery,
    crs: OutputCrs | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Features that intersect a (checked) lon/lat polygon."""
    layer.check_readable(user)
    s = _Select(layer, user)
    s.apply(q, conn)
    s.params["poly"] = polygon.wkb
    s.conds.append(f"ST_Intersects({s.geom}, ST_GeomFromWKB(:poly, 4326))")
    matched = conn.execute(sa.text(s.count_sql()), s.params).scalar_one()
    return _features(conn, s, q, crs), int(matched)


def within_area(
    conn: sa.Connection, layer: Layer, user: User, code: str, q: ItemQuery, crs: OutputCrs | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Features inside the district, street, community or grid with `code`."""
    layer.check_readable(user)
    s = _Select(layer, user)
    s.apply(q, conn)
    s.conds.append(area_clause(code, s.geom, s.params, where="query.code"))
    exists = conn.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM district WHERE code = :c "
            "UNION ALL SELECT 1 FROM street WHERE code = :c "
            "UNION ALL SELECT 1 FROM community WHERE code = :c UNION ALL SELECT 1 FROM grid WHERE code = :c)"
        ),
        {"c": code.strip()},
    ).scalar_one()
    if not exists:
        raise NotFound(f"no district, street, community or grid has code {code!r}", where="query.code")
    matched = conn.execute(sa.text(s.count_sql()), s.params).scalar_one()
    return _features(conn, s, q, crs), int(matched)

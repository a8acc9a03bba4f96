"""Demo district geometry in metres (EPSG:4550): boundary, hierarchy, creek, roads, buildings.

Every level is cut from its parent by Voronoi cells of weighted k-means seeds, so siblings
share edges exactly and the cells follow population density (small grids downtown,
large ones in the villages), as real grid plans do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

DISTRICT_AREA_M2 = 91.6e6
URBAN_SHARE = 0.45  # share of the district that is urban (four streets); the rest is the town


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Polygonal parts of `geom` as one MultiPolygon (drops slivers of lower dimension)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and not g.is_empty]
    out: list[Polygon] = []
    for p in parts:
        out.extend(q for q in shapely.get_parts(p) if q.geom_type == "Polygon")
    return MultiPolygon(out)


def sample_in(poly: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` uniform random points inside `poly` (rejection sampling), shape (n, 2)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        k = max(64, int((n - have) * 1.6 * (maxx - minx) * (maxy - miny) / max(poly.area, 1.0)))
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        out.append(xy[inside])
        have += int(inside.sum())
    return np.concatenate(out)[:n]


def weighted_kmeans(
    points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 12
) -> np.ndarray:
    """Centroids of a weighted k-means (Lloyd) over `points`; deterministic given `rng`."""
    idx = rng.choice(len(points), size=k, replace=False, p=weights / weights.sum())
    centres = points[idx].copy()
    for _ in range(iterations):
        d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        label = d2.argmin(axis=1)
        for j in range(k):
            m = label == j
            if m.any():
                w = weights[m]
                centres[j] = (points[m] * w[:, None]).sum(axis=0) / w.sum()
    return centres


def partition(parent: BaseGeometry, k: int, density, rng: np.random.Generator) -> list[MultiPolygon]:  # type: ignore[no-untyped-def]
    """Cut `parent` into `k` cells of roughly equal weight under `density(xy)`."""
    if k <= 1:
        return [as_multipolygon(parent)]
    pts = sample_in(parent, max(60 * k, 400), rng)
    centres = weighted_kmeans(pts, density(pts), k, rng)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(centres), extend_to=parent, ordered=True)
    out = [as_multipolygon(shapely.intersection(c, parent)) for c in shapely.get_parts(cells)]
    return [c for c in out if not c.is_empty]


def district_boundary(cx: float, cy: float, rng: np.random.Generator) -> Polygon:
    """An irregular, NE-SW elongated outline of exactly DISTRICT_AREA_M2."""
    theta = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.uniform(0.03, 0.10) / k * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    x, y = 1.45 * r * np.cos(theta), 0.75 * r * np.sin(theta)
    rot = math.radians(35.0)
    xr, yr = x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)
    poly = Polygon(np.column_stack([xr, yr]))
    s = math.sqrt(DISTRICT_AREA_M2 / poly.area)
    return Polygon(np.column_stack([cx + xr * s, cy + yr * s]))


def urban_core(district: Polygon, core_centre: Point) -> tuple[MultiPolygon, MultiPolygon]:
    """Split the district into an urban core (URBAN_SHARE of area) and the rural remainder."""
    lo, hi = 100.0, 20000.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if district.intersection(core_centre.buffer(mid, 64)).area < URBAN_SHARE * district.area:
            lo = mid
        else:
            hi = mid
    core = district.intersection(core_centre.buffer(hi, 64))
    rest_parts = sorted(shapely.get_parts(district.difference(core)), key=lambda g: -g.area)
    town = rest_parts[0]
    core = shapely.union_all([core, *rest_parts[1:]])  # stray bits join the core
    return as_multipolygon(core), as_multipolygon(town)


def creek_line(district: Polygon, cx: float, cy: float, rng: np.random.Generator) -> LineString:
    """A meandering creek crossing the district from NW to SE."""
    t = np.linspace(-9000, 9000, 240)
    ang = math.radians(-50.0)
    wiggle = 180 * np.sin(t / 700 + rng.uniform(0, 6)) + 90 * np.sin(t / 260)
    x = cx + t * math.cos(ang) - wiggle * math.sin(ang) - 600
    y = cy + t * math.sin(ang) + wiggle * math.cos(ang) + 300
    line = LineString(np.column_stack([x, y])).intersection(district)
    parts = sorted(shapely.get_parts(line), key=lambda g: -g.length)
    return parts[0]


@dataclass
class RoadNet:
    """Nodes and edges of the road graph (metres); edges index into nodes."""

    nodes: np.ndarray
    edges: list[tuple[int, int, str]] = field(default_factory=list)


def _lattice(
    region: BaseGeometry, origin: tuple[float, float], spacing: float, rot: float, rng: np.random.Generator
) -> tuple[dict[tuple[int, int], int], list[np.ndarray]]:
    minx, miny, maxx, maxy = region.bounds
    half = math.hypot(maxx - minx, maxy - miny) / 2 + spacing
    n = int(half / spacing) + 1
    cos_r, sin_r = math.cos(rot), math.sin(rot)
    ox, oy = origin
    shapely.prepare(region)
    index: dict[tuple[int, int], int] = {}
    coords: list[np.ndarray] = []
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            u, v = i * spacing, j * spacing
            x = ox + u * cos_r - v * sin_r + rng.normal(0, spacing * 0.06)
            y = oy + u * sin_r + v * cos_r + rng.normal(0, spacing * 0.06)
            if shapely.contains_xy(region, x, y):
                index[(i, j)] = len(coords)
                coords.append(np.array([x, y]))
    return index, coords


def road_network(
    district: Polygon,
    core: MultiPolygon,
    town: MultiPolygon,
    creek: LineString,
    core_centre: Point,
    rng: np.random.Generator,
    urban_spacing: float = 150.0,
    rural_spacing: float = 500.0,
) -> RoadNet:
    """A jittered street lattice downtown, a sparse one in the town, bridges over the creek."""
    rot = math.radians(35.0)
    u_idx, u_xy = _lattice(core, (core_centre.x, core_centre.y), urban_spacing, rot, rng)
    r_idx, r_xy = _lattice(town.buffer(-30), (core_centre.x, core_centre.y), rural_spacing, rot, rng)
    nodes = np.array(u_xy + r_xy)
    offset = len(u_xy)
    edges: list[tuple[int, int, str]] = []
    for idx, base, kind_of in ((u_idx, 0, "urban"), (r_idx, offset, "rural")):
        for (i, j), a in idx.items():
            for di, dj in ((1, 0), (0, 1)):
                b = idx.get((i + di, j + dj))
                if b is None:
                    continue
                if kind_of == "urban":
                    kind = "arterial" if (i % 5 == 0 and dj == 1) or (j % 5 == 0 and di == 1) else "street"
                    if kind == "street" and rng.random() < 0.07:
                        continue  # a few dead ends and superblocks
                else:
                    kind = "rural"
                edges.append((a + base, b + base, kind))
    # Link the rural net to the nearest downtown nodes along the core edge.
    u_arr = nodes[:offset]
    core_edge = core.boundary
    for k in range(offset, len(nodes)):
        p = Point(nodes[k])
        if core_edge.distance(p) < rural_spacing * 1.2:
            d = np.hypot(*(u_arr - nodes[k]).T)
            j = int(d.argmin())
            if d[j] < rural_spacing * 1.5:
                edges.append((k, j, "rural"))
    # The creek is crossed only at bridges (about one every kilometre along it).
    kept: list[tuple[int, int, str]] = []
    crossing: list[tuple[float, tuple[int, int, str]]] = []
    for a, b, kind in edges:
        seg = LineString([nodes[a], nodes[b]])
        if seg.intersects(creek):
            crossing.append((creek.project(seg.intersection(creek).representative_point()), (a, b, kind)))
        else:
            kept.append((a, b, kind))
    crossing.sort(key=lambda c: c[0])
    last = -1e9
    for pos, (a, b, _kind) in crossing:
        if pos - last >= 1000.0:
            kept.append((a, b, "bridge"))
            last = pos
    return _largest_component(RoadNet(nodes, kept))


def _largest_component(net: RoadNet) -> RoadNet:
    parent = list(range(len(net.nodes)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b, _ in net.edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    roots = np.array([find(i) for i in range(len(net.nodes))])
    used = np.zeros(len(net.nodes), dtype=bool)
    for a, b, _ in net.edges:
        used[a] = used[b] = True
    vals, counts = np.unique(roots[used], return_counts=True)
    keep_root = vals[counts.argmax()]
    keep = roots == keep_root
    new_id = -np.ones(len(net.nodes), dtype=int)
    new_id[keep] = np.arange(keep.sum())
    edges = [(int(new_id[a]), int(new_id[b]), k) for a, b, k in net.edges if keep[a] and keep[b]]
    return RoadNet(net.nodes[keep], edges)


def rectangle(cx: float, cy: float, length: float, width: float, angle: float) -> Polygon:
    """A rotated rectangle footprint centred on (cx, cy)."""
    c, s = math.cos(angle), math.sin(angle)
    hl, hw = length / 2, width / 2
    corners = [(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)]
    return Polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners])

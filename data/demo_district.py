"""Deterministic demo district modelled on Yuanbao district, Dandong (元宝区, 丹东市).

`generate(scale, seed)` returns every table's rows, ready for bulk loading, and a manifest
of what was planted (hotspots, GPS jumps) so analyses can be checked against the truth.
Scale 1.0 gives the real figures: Yuanbao's outline (90.9 km² as mapped), its 4 streets and
1 town and their 49 communities and villages (`data.yuanbao`),
1,035 grids, ~220,000 persons, 1,065 grid workers, ~2,700 cameras, 91 cold-chain firms,
a year of incidents (≥ 20,000) and a week of 30-second GPS tracks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point

from data import demo_addresses
from data import demo_geometry as geo
from data.demo_city import DistrictUnit, yuanbao_unit
from data.names import GIVEN, PLACE, ROAD_SUFFIX, SURNAMES
from gis_core.geo import coverage
from gis_core.geo.crs import transformer

METRIC_EPSG = 4550
CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
CST = 8 * 3600  # China Standard Time offset, seconds
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)  # 2026-11-01 00:00 +08:00

CARE_TAGS = [
    "elderly_alone",
    "disabled",
    "low_income",
    "left_behind_child",
    "veteran",
    "mental_health",
    "community_correction",
]
FLOATING_REGIONS = ["210603", "210604", "210681", "210124", "220104", "230102", "370202", "130102"]
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
SITE_LABEL = {"cold_chain_firm": "冷链企业", "cold_store": "冷库", "quarantine_hotel": "隔离酒店"}


def load_catalogue() -> dict[str, Any]:
    """The category catalogue (16 major classes, their items, departments)."""
    return json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))


def id_checksum(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a Chinese resident ID number (GB 11643)."""
    s = int(np.dot(np.frombuffer(first17.encode(), dtype=np.uint8) - 48, ID_WEIGHTS))
    return ID_CHECK[s % 11]


@dataclass
class Table:
    """Rows for one database table, in column order; geometries as hex EWKB."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class DemoData:
    """Everything the demo loader writes, in dependency order, plus the manifest."""

    tables: list[Table]
    tracks: dict[str, np.ndarray]
    manifest: dict[str, Any]

    def table(self, name: str) -> Table:
        """The table called `name`."""
        return next(t for t in self.tables if t.name == name)


class _Geo:
    """Metric ↔ WGS84 conversion and hex-EWKB output."""

    def __init__(self) -> None:
        self.fwd = transformer(4326, METRIC_EPSG)
        self.inv = transformer(METRIC_EPSG, 4326)

    def to_ll(self, g: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(g, lambda xy: np.column_stack(self.inv.transform(xy[:, 0], xy[:, 1])))

    def ewkb(self, g: shapely.Geometry, segment_m: float | None = None) -> str:
        # A straight metric edge is not straight in lon/lat: boundaries shared by units
        # with different vertices would open slivers, so they are densified first.
        if segment_m:
            g = coverage.densify(g, segment_m)
        # polygon columns are MultiPolygon throughout the schema
        if g.geom_type == "Polygon":
            g = MultiPolygon([g])
        return shapely.to_wkb(shapely.set_srid(self.to_ll(g), 4326), hex=True, include_srid=True)

    def coverage_ewkb(self, geoms: list[shapely.Geometry], segment_m: float) -> list[str]:
        """One level's polygons densified and noded together (`gis_core.geo.coverage.node`)."""
        noded = coverage.node([coverage.densify(geom, segment_m) for geom in geoms])
        return [self.ewkb(geom) for geom in noded]

    def points_ewkb(self, xy: np.ndarray) -> np.ndarray:
        lon, lat = self.inv.transform(xy[:, 0], xy[:, 1])
        pts = shapely.set_srid(shapely.points(np.round(lon, 7), np.round(lat, 7)), 4326)
        return shapely.to_wkb(pts, hex=True, include_srid=True)


def camera_bearing(degrees: float) -> float:
    """A bearing in [0, 360) to a tenth of a degree (359.97 rounds to 0.0, not to 360.0)."""
    return round(float(degrees) % 360, 1) % 360


def scatter(rng: np.random.Generator, sigma_m: float, within: float = 3.0) -> np.ndarray:
    """A normal offset in metres, `sigma_m` per axis, drawn again beyond `within` sigmas.

    A planted cluster has an edge: unbounded, one draw in a few hundred thousand lands five
    sigmas out (a forest-fire report 1.6 km from its forest, seen on Yuanbao's real outline).
    """
    while True:
        offset = rng.normal(0, sigma_m, 2)
        if np.hypot(*offset) <= within * sigma_m:
            return offset


def _name(rng: np.random.Generator) -> str:
    n = 1 if rng.random() < 0.35 else 2
    return SURNAMES[int(rng.integers(len(SURNAMES)))] + "".join(
        GIVEN[int(i)] for i in rng.integers(len(GIVEN), size=n)
    )


def _phone(rng: np.random.Generator) -> str:
    return "1" + "35789"[int(rng.integers(5))] + "".join(map(str, rng.integers(10, size=9)))


def _place(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        s = PLACE[int(rng.integers(len(PLACE)))] + PLACE[int(rng.integers(len(PLACE)))]
        if s not in used and s[0] != s[1]:
            used.add(s)
            return s


def _real_communities(units: tuple[tuple[str, str, str], ...], scale: float) -> list[tuple[str, str, str]]:
    """The real communities and villages a street keeps at `scale`.

    At least two; villages first, so a small town is still rural.
    """
    ordered = sorted(units, key=lambda u: (u[2] != "village", u[0]))
    return ordered[: min(len(ordered), max(2, round(len(ordered) * scale)))]


def generate(
    scale: float = 1.0,
    seed: int = 20261122,
    end: datetime = DEFAULT_END,
    unit: DistrictUnit | None = None,
    used_ids: set[str] | None = None,
) -> DemoData:
    """Generate the demo district at `scale` (1.0 = real figures), deterministic in `seed`.

    `unit` places and names it: Yuanbao's real outline and units by default, or another of the
    demo city's units (`data.demo_city`); `used_ids` are resident ID numbers already given in
    the city, never given again.
    """
    unit = unit or yuanbao_unit()
    rng = np.random.default_rng(seed)
    g = _Geo()
    if unit.outline is not None:  # a real outline, its urban core around the unit's centre
        district = shapely.transform(
            unit.outline, lambda xy: np.column_stack(g.fwd.transform(xy[:, 0], xy[:, 1]))
        )
        core_centre = Point(g.fwd.transform(*unit.centre))
        cx, cy = district.centroid.x, district.centroid.y
    else:
        cx, cy = g.fwd.transform(*unit.centre)
        district = geo.district_boundary(cx, cy, rng)
        dminx, dminy, dmaxx, dmaxy = district.bounds
        core_centre = Point(cx - 0.22 * (dmaxx - dminx), cy - 0.22 * (dmaxy - dminy))
    core, town = geo.urban_core(district, core_centre)

    def density(xy: np.ndarray) -> np.ndarray:
        d = np.hypot(xy[:, 0] - core_centre.x, xy[:, 1] - core_centre.y)
        inside = shapely.contains_xy(core, xy[:, 0], xy[:, 1])
        return np.where(inside, 0.25 + np.exp(-d / 2500.0), 0.04)

    # ------------------------------------------------------------- hierarchy
    n_street_comm = max(2, round(9 * scale))
    n_villages = max(2, round(9 * scale))
    reals = [_real_communities(st.communities, scale) for st in unit.streets]
    n_comm = sum(
        len(r) or (n_villages if st.kind == "town" else n_street_comm)
        for r, st in zip(reals, unit.streets, strict=True)
    )
    n_grids = max(2 * n_comm, round(1035 * scale))
    streets_geom = geo.partition(core, 4, density, rng) + [town]
    used_names: set[str] = set()
    street_rows, comm_rows, grid_rows = [], [], []
    comm_geoms: list[tuple[str, MultiPolygon, bool]] = []
    for si, street in enumerate(unit.streets):
        scode = street.code + "000"
        street_rows.append((scode, street.name, street.kind, unit.code, streets_geom[si]))
        village = street.kind == "town"  # the town's units are generated rural, with hamlets
        real = reals[si]
        k = len(real) or (n_villages if village else n_street_comm)
        for ci, cgeom in enumerate(geo.partition(streets_geom[si], k, density, rng)):
            if real:
                ccode, cname, ckind = real[ci]
            else:
                ccode = street.code + (f"{200 + ci + 1:03d}" if village else f"{ci + 1:03d}")
                cname = _place(rng, used_names) + ("村" if village else "社区")
                ckind = "village" if village else "community"
            comm_rows.append((ccode, cname, ckind, scode, cgeom))
            comm_geoms.append((ccode, cgeom, village))
    # grids per community in proportion to the population weight they hold
    weights = np.array([density(geo.sample_in(cg, 200, rng)).mean() * cg.area for _, cg, _ in comm_geoms])
    alloc = np.maximum(2, np.floor(weights / weights.sum() * n_grids)).astype(int)
    while alloc.sum() < n_grids:
        alloc[int(np.argmax(weights / alloc))] += 1
    while alloc.sum() > n_grids:
        alloc[int(np.argmax(np.where(alloc > 2, alloc / weights, -1)))] -= 1
    grid_geoms: list[tuple[str, MultiPolygon, bool]] = []
    for (ccode, cgeom, village), k in zip(comm_geoms, alloc, strict=True):
        for gi, gg in enumerate(geo.partition(cgeom, int(k), density, rng)):
            grid_geoms.append((ccode + f"{gi + 1:03d}", gg, village))
    # kinds: enterprise grids around two industrial parks, scattered school grids
    centroids = np.array([[gg.centroid.x, gg.centroid.y] for _, gg, _ in grid_geoms])
    parks = [
        np.array([core_centre.x + 2500, core_centre.y - 1200]),
        np.array(town.representative_point().coords[0]),
    ]
    kinds = np.where([v for _, _, v in grid_geoms], "rural", "urban").astype(object)
    n_ent = round(0.135 * len(grid_geoms))
    d_park = np.min([np.hypot(*(centroids - p).T) for p in parks], axis=0)
    kinds[np.argsort(d_park)[:n_ent]] = "enterprise"
    urban_idx = np.flatnonzero(kinds == "urban")
    n_school = max(1, round(0.039 * len(grid_geoms)))
    kinds[rng.choice(urban_idx, size=min(n_school, len(urban_idx)), replace=False)] = "school"
    kind_cn = {"urban": "城市网格", "rural": "农村网格", "enterprise": "企业网格", "school": "校园网格"}
    for (gcode, gg, _), kind in zip(grid_geoms, kinds, strict=True):
        grid_rows.append((gcode, f"{kind_cn[kind]}{gcode[-5:]}", kind, gcode[:12], gg))
    # each level a noded coverage: densified, then neighbours made to share every vertex of a
    # shared edge (cut independently, two communities' grids met without common vertices)
    for rows in (street_rows, comm_rows, grid_rows):
        for k, geom in enumerate(g.coverage_ewkb([r[-1] for r in rows], 5.0)):
            rows[k] = (*rows[k][:-1], geom)

    # ------------------------------------------------------------- roads
    creek = geo.creek_line(district, cx, cy, rng)
    net = geo.road_network(district, core, town, creek, core_centre, rng)
    vertex_rows = [(i + 1, e) for i, e in enumerate(g.points_ewkb(net.nodes))]
    road_rows = []
    road_names = [_place(rng, set()) + ROAD_SUFFIX[i % 4] for i in range(60)]
    for a, b, kind in net.edges:
        line = shapely.LineString([net.nodes[a], net.nodes[b]])
        length = float(line.length)
        secs = length / 1.3  # walking at 1.3 m/s
        road_rows.append(
            (
                road_names[(a * 7 + b) % 60] if kind != "rural" else "乡道",
                kind,
                a + 1,
                b + 1,
                round(length, 2),
                round(secs, 2),
                round(secs, 2),
                g.ewkb(line),
            )
        )

    # ------------------------------------------------------------- buildings and people
    grid_tree = shapely.STRtree([gg for _, gg, _ in grid_geoms])
    grid_kind = dict(zip([c for c, _, _ in grid_geoms], kinds, strict=True))
    b_geoms, b_use, b_floors = [], [], []
    rot = math.radians(35.0)
    n_urban_b = round(7000 * scale) + 20
    centres = geo.sample_in(core, n_urban_b * 3, rng)
    w = density(centres)
    pick = rng.choice(len(centres), size=n_urban_b, replace=False, p=w / w.sum())
    road_lines = shapely.STRtree([shapely.LineString([net.nodes[a], net.nodes[b]]) for a, b, _ in net.edges])
    placed: list[shapely.Geometry] = []
    placed_tree_dirty = True
    for x, y in centres[pick]:
        poly = geo.rectangle(
            x, y, rng.uniform(30, 70), rng.uniform(11, 16), rot + rng.choice([0, math.pi / 2])
        )
        if road_lines.query(poly.buffer(6), predicate="intersects").size or not district.contains(poly):
            continue
        gi = grid_tree.query(Point(x, y), predicate="within")
        kind = grid_kind[grid_geoms[int(gi[0])][0]] if gi.size else "urban"
        use = {"enterprise": "industrial", "school": "school"}.get(kind, "residential")
        if use == "residential" and rng.random() < 0.08:
            use = "commercial"
        placed.append(poly)
        b_geoms.append(poly)
        b_use.append(use)
        d = math.hypot(x - core_centre.x, y - core_centre.y)
        b_floors.append(
            int(np.clip(rng.normal(18 - d / 400, 4), 3, 33))
            if use == "residential"
            else int(rng.integers(1, 6))
        )
    del placed, placed_tree_dirty
    # rural houses in hamlets around village centres
    for _, cg, village in comm_geoms:
        if not village:
            continue
        hub = cg.representative_point()
        for x, y in hub.coords[0] + rng.normal(0, 250, size=(round(160 * scale) + 5, 2)):
            if not shapely.contains_xy(cg, x, y):
                continue
            poly = geo.rectangle(x, y, rng.uniform(10, 16), rng.uniform(8, 11), rot)
            if not cg.contains(poly):  # a house across the village edge belongs to neither side
                continue
            b_geoms.append(poly)
            b_use.append("rural_house")
            b_floors.append(int(rng.integers(1, 3)))
    areas = np.array([p.area for p in b_geoms])
    raw = np.where(
        np.array(b_use) == "residential",
        areas * np.array(b_floors) / 95.0,
        np.where(np.array(b_use) == "rural_house", 1.0, 0.0),
    )
    target_persons = round(220_000 * scale)
    target_households = target_persons / 2.55
    households = np.where(
        np.array(b_use) == "rural_house",
        1,
        np.round(raw * (target_households - (raw == 1.0).sum()) / max(raw[raw != 1.0].sum(), 1)),
    )
    households = households.astype(int)
    # standard addresses (一标三实): a random stream of their own, so the rest is as before
    arng, used_places = np.random.default_rng(seed + 16), set(road_names) | used_names
    street_name = {r[0]: r[1] for r in street_rows}
    addr = demo_addresses.generate(
        arng,
        g,
        unit.code,
        unit.name,
        net,
        [r[0] for r in road_rows],
        b_geoms,
        b_use,
        b_floors,
        households,
        [(c[0], c[1], c[2], r[1], street_name[r[3]]) for c, r in zip(comm_geoms, comm_rows, strict=True)],
        lambda: _place(arng, used_places),
    )
    b_rows = []
    b_points = np.array([p.representative_point().coords[0] for p in b_geoms])
    b_ewkb = [g.ewkb(p) for p in b_geoms]
    for i in range(len(b_geoms)):
        b_rows.append(
            (
                f"B{i + 1:06d}",
                addr.building_address[i],
                b_use[i],
                b_floors[i],
                int(households[i]),
                b_ewkb[i],
            )
        )
    # persons, household by household, until the target is reached
    b_pt_ewkb = g.points_ewkb(b_points)
    person_rows: list[tuple[Any, ...]] = []
    used_ids = set() if used_ids is None else used_ids
    today = end.date()
    order = rng.permutation(np.repeat(np.arange(len(b_geoms)), households))
    hh_no = 0
    hh_in_building = np.zeros(len(b_geoms), dtype=int)
    for bi in order:
        if len(person_rows) >= target_persons:
            break
        hh_no += 1
        room = addr.building_rooms[bi][hh_in_building[bi]]
        hh_in_building[bi] += 1
        size = 1 + min(int(rng.poisson(1.6)), 6)
        floating = rng.random() < 0.15
        for member in range(size):
            age = int(rng.integers(25, 80)) if member == 0 else int(np.clip(rng.normal(38, 22), 0, 99))
            birth = today - timedelta(days=age * 365 + int(rng.integers(365)))
            gender = "M" if rng.random() < 0.5 else "F"
            region = FLOATING_REGIONS[int(rng.integers(len(FLOATING_REGIONS)))] if floating else unit.prefix
            while True:
                seq = int(rng.integers(0, 500)) * 2 + (1 if gender == "M" else 0)
                first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
                idn = first17 + id_checksum(first17)
                if idn not in used_ids:
                    used_ids.add(idn)
                    break
            tags = []
            if age >= 70 and size == 1:
                tags.append("elderly_alone")
            for t, p in (
                ("disabled", 0.02),
                ("low_income", 0.03),
                ("veteran", 0.015),
                ("mental_health", 0.004),
                ("community_correction", 0.002),
            ):
                if rng.random() < p:
                    tags.append(t)
            if age < 16 and rng.random() < 0.05:
                tags.append("left_behind_child")
            risk = "ABCD"[int(rng.choice(4, p=[0.01, 0.04, 0.15, 0.80]))]
            person_rows.append(
                (
                    int(bi) + 1,
                    f"H{hh_no:07d}",
                    _name(rng),
                    idn,
                    _phone(rng) if age >= 14 else None,
                    gender,
                    birth.isoformat(),
                    "floating" if floating else "resident",
                    "{" + ",".join(tags) + "}",
                    risk,
                    age >= 18 and rng.random() < 0.08,
                    b_pt_ewkb[bi],
                    room,
                )
            )

    # ------------------------------------------------------------- organisations
    cat = load_catalogue()
    dept_rows = [(d["code"], d["name"], d["level"]) for d in cat["departments"]]
    cat_rows = [
        (
            it["code"],
            m["code"],
            m["name"],
            m["name_en"],
            it["name"],
            it["name_en"],
            it["handling_level"],
            it["department"],
            it["accept_hours"],
            it["dispatch_hours"],
            it["handle_hours"],
        )
        for m in cat["majors"]
        for it in m["items"]
    ]
    sc_rows, po_rows = [], []
    district_pt = Point(core_centre.x, core_centre.y)
    sc_rows.append(("SC-D", f"{unit.name}党群服务中心", "district", 15, g.ewkb(district_pt)))
    po_rows.append(("PO-D", f"中共丹东市{unit.name}委员会", "district", 60, g.ewkb(district_pt)))
    for (scode, sname, _, _, _), sg in zip(street_rows, streets_geom, strict=True):
        pt = sg.representative_point()
        sc_rows.append((f"SC-{scode}", f"{sname}党群服务中心", "street", 10, g.ewkb(pt)))
        po_rows.append((f"PO-{scode}", f"{sname}党工委", "street", int(rng.integers(20, 60)), g.ewkb(pt)))
    for (ccode, cg, _), row in zip(comm_geoms, comm_rows, strict=True):
        pt = cg.representative_point()
        sc_rows.append((f"SC-{ccode}", f"{row[1]}党群服务站", "community", 5, g.ewkb(pt)))
        po_rows.append((f"PO-{ccode}", f"{row[1]}党委", "community", int(rng.integers(30, 300)), g.ewkb(pt)))
    ent_grids = [gg for (_, gg, _), k in zip(grid_geoms, kinds, strict=True) if k == "enterprise"]
    for i, gg in enumerate(ent_grids[: round(60 * scale) + 1]):
        po_rows.append(
            (
                f"PO-E{i + 1:03d}",
                f"企业党支部{i + 1:03d}",
                "enterprise",
                int(rng.integers(3, 40)),
                g.ewkb(gg.representative_point()),
            )
        )

    # ------------------------------------------------------------- workers and accounts
    n_workers = round(1065 * scale) if scale >= 0.05 else len(grid_geoms) + 1
    hh_per_grid = np.zeros(len(grid_geoms))
    bg = grid_tree.query(shapely.points(b_points), predicate="within")
    np.add.at(hh_per_grid, bg[1], households[bg[0]])
    worker_rows, wg_rows = [], []
    extra = np.argsort(-hh_per_grid)[: max(0, n_workers - len(grid_geoms))]
    assignment = list(range(len(grid_geoms))) + [int(i) for i in extra]
    for wi, gi in enumerate(assignment):
        worker_rows.append((f"W{wi + 1:05d}", _name(rng), _phone(rng)))
        wg_rows.append((wi + 1, grid_geoms[gi][0], True))

    # ------------------------------------------------------------- cameras, cold chain, key points
    edges = np.array([(a, b) for a, b, _ in net.edges])
    mid = (net.nodes[edges[:, 0]] + net.nodes[edges[:, 1]]) / 2
    ew = density(mid)
    n_cam = round(2700 * scale) + 5
    cam_edges = rng.choice(len(edges), size=n_cam, replace=True, p=ew / ew.sum())
    cam_rows = []
    groups = [
        "主干道",
        "学校周边",
        "冷链企业",
        "森林防火",
        "河道防汛",
        "商圈",
        "社区出入口",
        "重点单位",
        "交通路口",
        "公园广场",
        "医院周边",
        "党群服务中心",
    ]
    systems = rng.choice(["skynet", "service_hall", "street_built"], size=n_cam, p=[0.5, 0.1, 0.4])
    for i, e in enumerate(cam_edges):
        a, b = net.nodes[edges[e, 0]], net.nodes[edges[e, 1]]
        frac = rng.uniform(0.1, 0.9)
        p = a + frac * (b - a)
        heading = math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360
        bearing = (heading + rng.choice([0, 180]) + rng.normal(0, 15)) % 360
        grp = int(rng.integers(1, 13))
        cam_rows.append(
            (
                f"C{i + 1:05d}",
                f"{groups[grp - 1]}-{i + 1:05d}",
                str(systems[i]),
                grp,
                camera_bearing(bearing),
                float(rng.choice([45, 60, 75, 90])),
                float(rng.choice([30, 50, 80])),
                bool(rng.random() > 0.04),
                p,
            )
        )
    ccs_rows, ccs_cams, ccs_xy = [], [], []
    ent_pts = (
        np.array([gg.representative_point().coords[0] for gg in ent_grids])
        if ent_grids
        else np.array([[core_centre.x, core_centre.y]])
    )
    n_firms, n_stores, n_hotels = (
        max(3, round(91 * scale)),
        max(2, round(30 * scale)),
        max(1, round(6 * scale)),
    )
    for i in range(n_firms + n_stores + n_hotels):
        cat_ = (
            "cold_chain_firm"
            if i < n_firms
            else "cold_store"
            if i < n_firms + n_stores
            else "quarantine_hotel"
        )
        base = (
            ent_pts[int(rng.integers(len(ent_pts)))]
            if cat_ != "quarantine_hotel"
            else np.array([core_centre.x, core_centre.y])
        )
        x, y = base + scatter(rng, 300)
        if not shapely.contains_xy(district, x, y):
            x, y = base
        geom = geo.rectangle(x, y, 40, 25, rot) if cat_ == "cold_store" else Point(x, y)
        ccs_xy.append((x, y))
        ccs_rows.append(
            (
                f"CC{i + 1:03d}",
                f"{SITE_LABEL[cat_]}{i + 1:03d}",
                cat_,
                str(rng.choice(["high", "medium", "low"], p=[0.2, 0.5, 0.3])),
                g.ewkb(geom),
            )
        )
        # each site watched by a dedicated camera (preset group 3), as in the seeds' 24h watch:
        # mounted 11 m to its north-east and facing it, though about one in ten is offline
        cam_rows.append(
            (
                f"C{len(cam_rows) + 1:05d}",
                f"冷链企业-{i + 1:03d}",
                "street_built",
                3,
                float((225.0 + rng.normal(0, 10)) % 360),
                90.0,
                50.0,
                bool(rng.random() > 0.1),
                np.array([x + 8, y + 8]),
            )
        )
        ccs_cams.append((i + 1, len(cam_rows)))
    cam_rows = [(*r[:-1], g.ewkb(Point(r[-1]))) for r in cam_rows]
    kp_rows = []
    for i, p in enumerate(geo.sample_in(town, max(2, round(40 * scale)), rng)):
        kp_rows.append((f"KP-F{i + 1:03d}", f"森林防火点{i + 1:03d}", "forest_fire", 12, g.ewkb(Point(p))))
    for i in range(max(2, round(25 * scale))):
        p = creek.interpolate(rng.uniform(0, creek.length))
        kp_rows.append((f"KP-W{i + 1:03d}", f"防汛点{i + 1:03d}", "flood", 24, g.ewkb(p)))

    # ------------------------------------------------------------- incidents
    inc, events, hotspots = _incidents(
        rng,
        g,
        scale,
        end,
        cat,
        b_points,
        households,
        creek,
        town,
        kp_rows,
        grid_geoms,
        core,
        np.array(ccs_xy),
        district,
    )
    # ------------------------------------------------------------- tracks
    tracks, track_truth = _tracks(rng, g, end, assignment, grid_geoms)
    # a week of probe readings: a random stream of its own, so the rest of the district is as before
    readings, excursions = _cold_chain_readings(np.random.default_rng(seed + 14), ccs_rows, end, scale)
    # shops and units (实有单位) in the buildings that house them: a stream of their own too
    unit_rows = _units(np.random.default_rng(seed + 15), b_geoms, b_use, g, unit.name)

    manifest = {
        "seed": seed,
        "scale": scale,
        "end": (end + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        "metric_epsg": METRIC_EPSG,
        "counts": {
            "streets": len(street_rows),
            "communities": len(comm_rows),
            "grids": len(grid_rows),
            "persons": len(person_rows),
            "buildings": len(b_rows),
            "workers": len(worker_rows),
            "cameras": len(cam_rows),
            "cold_chain_sites": len(ccs_rows),
            "incidents": len(inc),
            "track_points": int(len(tracks["worker_id"])),
            "roads": len(road_rows),
            "units": len(unit_rows),
            "addresses": {
                lv: sum(r[1] == lv for r in addr.rows) for lv in ("road", "door", "building", "unit", "room")
            },
            "address_aliases": len(addr.aliases),
        },
        "grid_kinds": {k: int((kinds == k).sum()) for k in ("urban", "rural", "enterprise", "school")},
        "hotspots": hotspots,
        "cold_chain_excursions": excursions,
        "tracks": track_truth,
        "creek": g.to_ll(creek).wkt,
    }
    tables = [
        Table("district", ["code", "name", "geom"], [(unit.code, unit.name, g.ewkb(district, 5.0))]),
        Table("street", ["code", "name", "kind", "district_code", "geom"], street_rows),
        Table("community", ["code", "name", "kind", "street_code", "geom"], comm_rows),
        Table("grid", ["code", "name", "kind", "community_code", "geom"], grid_rows),
        Table("department", ["code", "name", "level"], dept_rows),
        Table(
            "category",
            [
                "code",
                "major_code",
                "major_name",
                "major_name_en",
                "name",
                "name_en",
                "handling_level",
                "department_code",
                "accept_hours",
                "dispatch_hours",
                "handle_hours",
            ],
            cat_rows,
        ),
        Table("road_vertex", ["id", "geom"], vertex_rows),
        Table(
            "road",
            ["name", "kind", "source", "target", "length_m", "cost", "reverse_cost", "geom"],
            road_rows,
        ),
        Table("building", ["code", "address", "use", "floors", "households", "geom"], b_rows),
        Table(
            "address",
            [
                "code",
                "level",
                "parent_id",
                "label",
                "number",
                "full_name",
                "search_name",
                "search_grams",
                "building_id",
                "geom",
            ],
            addr.rows,
        ),
        Table("address_alias", ["address_id", "alias", "kind", "search_name", "search_grams"], addr.aliases),
        Table(
            "person",
            [
                "building_id",
                "household_no",
                "name",
                "id_number",
                "phone",
                "gender",
                "birth_date",
                "residency",
                "care_tags",
                "risk_class",
                "party_member",
                "geom",
                "address_id",
            ],
            person_rows,
        ),
        Table("party_org", ["code", "name", "level", "members", "geom"], po_rows),
        Table(
            "unit",
            [
                "code",
                "name",
                "kind",
                "industry",
                "building_id",
                "contact_name",
                "contact_phone",
                "employees",
                "geom",
                "address_id",
            ],
            [(*u, addr.building_door[u[4] - 1]) for u in unit_rows],
        ),
        Table("service_center", ["code", "name", "level", "circle_minutes", "geom"], sc_rows),
        Table(
            "camera",
            [
                "code",
                "name",
                "source_system",
                "preset_group",
                "bearing_deg",
                "fov_deg",
                "range_m",
                "online",
                "geom",
            ],
            cam_rows,
        ),
        Table("cold_chain_site", ["code", "name", "category", "risk_level", "geom"], ccs_rows),
        Table("cold_chain_camera", ["site_id", "camera_id"], ccs_cams),
        Table("cold_chain_reading", ["site_id", "recorded_at", "temperature_c"], readings),
        Table("key_point", ["code", "name", "kind", "patrol_interval_h", "geom"], kp_rows),
        Table("worker", ["code", "name", "phone"], worker_rows),
        Table("worker_grid", ["worker_id", "grid_code", "is_primary"], wg_rows),
        Table(
            "incident",
            [
                "code",
                "category_code",
                "description",
                "source",
                "state",
                "level",
                "department_code",
                "reporter_name",
                "reported_at",
                "accepted_at",
                "dispatched_at",
                "resolved_at",
                "closed_at",
                "due_at",
                "closed_level",
                "rating",
                "geom",
            ],
            inc,
        ),
        Table("incident_event", ["incident_id", "action", "from_state", "to_state", "at", "note"], events),
    ]
    return DemoData(tables, tracks, manifest)


#: a probe reads every half hour; a store holds about -18 °C, an excursion warms it for hours
READING_EVERY_S = 1800
READING_DAYS = 7


#: (industry, name endings) of the shops on a commercial building's ground floor
SHOP_TRADES = (
    ("餐饮", ("饭店", "面馆", "烧烤", "饺子馆", "快餐")),
    ("零售", ("超市", "便利店", "水果店", "五金店", "烟酒店")),
    ("生活服务", ("理发店", "洗衣店", "家电维修", "快递驿站")),
    ("医药", ("药房",)),
)
UNIT_KINDS = {  # building use → (unit kind, industry, name ending, employees range)
    "industrial": ("enterprise", "制造业", "有限公司", (20, 300)),
    "school": ("school", "教育", "学校", (40, 150)),
}


def _units(
    rng: np.random.Generator, b_geoms: list[shapely.Geometry], b_use: list[str], g: _Geo, district_name: str
) -> list[tuple[Any, ...]]:
    """Shops in commercial buildings (2–6 each), a firm in each industrial building, a school in each school.

    Each unit stands inside its building's footprint; its building id is the footprint's index + 1.
    """
    rows: list[tuple[Any, ...]] = []
    for bi, (poly, use) in enumerate(zip(b_geoms, b_use, strict=True)):
        if use == "commercial":
            units = []
            for _ in range(int(rng.integers(2, 7))):
                trade, endings = SHOP_TRADES[int(rng.integers(len(SHOP_TRADES)))]
                units.append(("shop", trade, endings[int(rng.integers(len(endings)))], (1, 12)))
        elif use in UNIT_KINDS:
            units = [UNIT_KINDS[use]]
        else:
            continue
        inside = geo.sample_in(poly.buffer(-1.0), len(units), rng)
        for (kind, industry, ending, (lo, hi)), (x, y) in zip(units, inside, strict=True):
            owner = _name(rng)
            name = (
                f"{owner[0]}记{ending}" if kind == "shop" else f"{district_name}{_place(rng, set())}{ending}"
            )
            rows.append(
                (
                    f"U{len(rows) + 1:06d}",
                    name,
                    kind,
                    industry,
                    bi + 1,
                    owner,
                    _phone(rng),
                    int(rng.integers(lo, hi + 1)),
                    g.ewkb(Point(x, y)),
                )
            )
    return rows


def _cold_chain_readings(
    rng: np.random.Generator, sites: list[tuple[Any, ...]], end: datetime, scale: float
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """A week of readings for every cold-chain firm and store up to `end`, with a few excursions.

    Quarantine hotels have no probe. The excursions (2-4 h above -10 °C) are returned for the
    manifest, so the readings, the alert history and the warning rule can be checked against them.
    """
    end_s = int(end.timestamp()) // READING_EVERY_S * READING_EVERY_S
    times = np.arange(end_s - READING_DAYS * 86400, end_s + 1, READING_EVERY_S)
    probed = [k for k, site in enumerate(sites) if site[2] != "quarantine_hotel"]
    warm = rng.choice(probed, size=min(len(probed), max(1, round(4 * scale))), replace=False)
    rows: list[tuple[Any, ...]] = []
    excursions: list[dict[str, Any]] = []
    for k in probed:
        setpoint = -18.0 if sites[k][2] == "cold_store" else -20.0
        # noise, and a defrost bump of about a degree twice a day
        temps = (
            setpoint + rng.normal(0, 0.5, len(times)) + 0.8 * np.maximum(0, np.sin(times / 43200 * 2 * np.pi))
        )
        if k in warm:
            start = int(rng.integers(24, len(times) - 12))
            span = int(rng.integers(4, 9))  # 2 to 4 hours
            temps[start : start + span] = rng.uniform(-9.5, -5.0, span)
            excursions.append(
                {
                    "site": sites[k][0],
                    "from": _ts(float(times[start])),
                    "to": _ts(float(times[start + span - 1])),
                    "peak_c": round(float(temps[start : start + span].max()), 1),
                }
            )
        rows.extend((k + 1, _ts(float(t)), round(float(v), 1)) for t, v in zip(times, temps, strict=True))
    return rows, excursions


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def _incidents(
    rng,
    g,
    scale,
    end,
    cat,
    b_points,
    households,
    creek,
    town,
    kp_rows,
    grid_geoms,
    core,
    cold_sites,
    district,
):  # type: ignore[no-untyped-def]
    """A year of incidents with seasonal/weekly/daily rhythm and planted hotspots, all inside `district`."""
    items = [(m["code"], it) for m in cat["majors"] for it in m["items"]]
    # Most reports are handled at grid/community/street level (95% in the seeds).
    w = np.array([1.0 if it["handling_level"] == "district" else 9.0 for _, it in items])
    w /= w.sum()
    n = max(400, round(24000 * scale))
    end_s = end.timestamp()
    start_s = end_s - 365 * 86400
    day_of_year = np.arange(365)
    season = {
        "07": lambda m: np.where(np.isin(m, [3, 4, 5, 10, 11]), 3.0, 0.3),
        "08": lambda m: np.where(np.isin(m, [6, 7, 8]), 4.0, 0.3),
        "16": lambda m: np.where(np.isin(m, [11, 12, 1, 2, 3]), 3.0, 0.2),
    }
    days = np.array([datetime.fromtimestamp(start_s + d * 86400 + CST, UTC) for d in day_of_year])
    months = np.array([d.month for d in days])
    weekday = np.array([d.weekday() for d in days])
    hour_w = np.array(
        [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 12, 9, 10, 14, 15, 13, 10, 8, 6, 4, 3, 2, 1], float
    )
    hour_w /= hour_w.sum()
    hh_w = households.astype(float) + 0.3
    hh_w /= hh_w.sum()
    # key points are stored in lon/lat; the scatter around them is in metres
    forest_lonlat = np.array([shapely.from_wkb(k[-1]).coords[0] for k in kp_rows if k[2] == "forest_fire"])
    forest = np.column_stack(g.fwd.transform(forest_lonlat[:, 0], forest_lonlat[:, 1]))
    rows, events, incident_points = [], [], []
    shapely.prepare(district)

    def add(code_item, major, x, y, t, state_hint=None):  # type: ignore[no-untyped-def]
        incident_points.append((code_item, major, x, y, t, state_hint))

    def inside(draw):  # type: ignore[no-untyped-def]
        """A point from `draw()` that lies in the district: a scatter near the edge is drawn again."""
        for _ in range(1000):
            x, y = draw()
            if shapely.contains_xy(district, x, y):
                return x, y
        raise RuntimeError("no point of this kind falls inside the district")

    def creek_point():  # type: ignore[no-untyped-def]
        p = creek.interpolate(rng.uniform(0, creek.length))
        return p.x + rng.normal(0, 120), p.y + rng.normal(0, 120)

    for _ in range(n):
        major, it = items[int(rng.choice(len(items), p=w))]
        if major == "07" and len(forest):
            x, y = inside(lambda: forest[int(rng.integers(len(forest)))] + scatter(rng, 300))
        elif major == "06" and len(cold_sites):  # cold-chain reports come from the sites themselves
            x, y = inside(lambda: cold_sites[int(rng.integers(len(cold_sites)))] + scatter(rng, 40))
        elif major == "08":
            x, y = inside(creek_point)
        else:
            x, y = inside(lambda: b_points[int(rng.choice(len(b_points), p=hh_w))] + scatter(rng, 25))
        dw = (season[major](months) if major in season else np.ones(365)) * np.where(weekday < 5, 1.2, 0.8)
        d = int(rng.choice(365, p=dw / dw.sum()))
        t = (
            start_s + d * 86400 + int(rng.choice(24, p=hour_w)) * 3600 + int(rng.integers(3600))
        )  # start_s is local midnight
        t = max(start_s, t)
        add(it["code"], major, x, y, t)
    # planted hotspots: dense clusters of one category in a known place and period
    hotspots = []
    plan = [
        ("0103", "占道经营 near a market", 70),
        ("0101", "garbage at a construction site", 56),
        ("0302", "e-bike charging in an old estate", 84),
        ("1203", "overcrowded rentals", 42),
    ]
    urban_b = np.flatnonzero(shapely.contains_xy(core, b_points[:, 0], b_points[:, 1]) & (households > 20))
    chosen: list[np.ndarray] = []
    for i, (code, label, period_days) in enumerate(plan):
        for _ in range(100):
            c = b_points[int(rng.choice(urban_b))]
            if all(np.hypot(*(c - o)) > 1500 for o in chosen):
                break
        chosen.append(c)
        t0 = end_s - (30 + 80 * i + period_days) * 86400
        count = max(25, round(n * 0.018))
        for _ in range(count):
            x, y = inside(lambda c=c: c + scatter(rng, 60))
            add(code, code[:2], x, y, t0 + rng.uniform(0, period_days * 86400))
        lon, lat = g.inv.transform(c[0], c[1])
        cells = [gc for gc, gg, _ in grid_geoms if gg.distance(Point(c)) <= 120]
        hotspots.append(
            {
                "category": code,
                "label": label,
                "lon": round(lon, 6),
                "lat": round(lat, 6),
                "radius_m": 150,
                "count": count,
                "from": _ts(t0),
                "to": _ts(t0 + period_days * 86400),
                "grid_codes": cells,
            }
        )
    incident_points.sort(key=lambda r: r[4])
    xy = np.array([[r[2], r[3]] for r in incident_points])
    ewkb = g.points_ewkb(xy)
    item_by_code = {it["code"]: it for _, it in items}
    sources = ["grid_worker", "citizen", "hotline", "camera"]
    counters: dict[str, int] = {}
    for k, (code, _major, _x, _y, t, _) in enumerate(incident_points):
        it = item_by_code[code]
        day = datetime.fromtimestamp(t + CST, UTC).strftime("%Y%m%d")
        counters[day] = counters.get(day, 0) + 1
        age_h = (end_s - t) / 3600
        acc = t + rng.uniform(0.05, 1.0) * it["accept_hours"] * 3600
        dis = acc + rng.uniform(0.05, 1.0) * it["dispatch_hours"] * 3600
        res = dis + rng.uniform(0.1, 1.1) * it["handle_hours"] * 3600
        clo = res + rng.uniform(1, 48) * 3600
        due = t + (it["accept_hours"] + it["dispatch_hours"] + it["handle_hours"]) * 3600
        stamps = [
            ("report", None, "reported", t),
            ("accept", "reported", "accepted", acc),
            ("dispatch", "accepted", "dispatched", dis),
            ("start", "dispatched", "in_progress", dis + 600),
            ("resolve", "in_progress", "resolved", res),
            ("rate", "resolved", "closed", clo),
        ]
        if rng.random() < 0.02 and age_h > 2:
            stamps, state = stamps[:1] + [("reject", "reported", "rejected", acc)], "rejected"
        else:
            done = [s for s in stamps if s[3] <= end_s]
            stamps, state = done, done[-1][2]
        rating = None
        if state == "closed":
            rating = str(rng.choice(["satisfied", "basic", "unsatisfied"], p=[0.9, 0.07, 0.03]))
        level = it["handling_level"]
        at = {s[2]: s[3] for s in stamps}
        rows.append(
            (
                f"YB{day}-{counters[day]:05d}",
                code,
                it["name"],
                sources[int(rng.choice(4, p=[0.7, 0.2, 0.08, 0.02]))],
                state,
                level,
                it["department"],
                _name(rng),
                _ts(t),
                _ts(at["accepted"]) if "accepted" in at else None,
                _ts(at["dispatched"]) if "dispatched" in at else None,
                _ts(at["resolved"]) if "resolved" in at else None,
                _ts(at["closed"]) if "closed" in at else (_ts(at["rejected"]) if "rejected" in at else None),
                _ts(due),
                level if state == "closed" else None,
                rating,
                ewkb[k],
            )
        )
        for action, frm, to, ts in stamps:
            events.append((k + 1, action, frm, to, _ts(ts), ""))
    return rows, events, hotspots


def _tracks(rng, g, end, assignment, grid_geoms):  # type: ignore[no-untyped-def]
    """A week of 30-second fixes per worker during a daily ~4 h shift, mostly in their grid."""
    end_s = end.timestamp()
    cols: dict[str, list[np.ndarray]] = {"worker_id": [], "t": [], "x": [], "y": [], "speed": [], "acc": []}
    n_jumps = n_poor = 0
    for wi, gi in enumerate(assignment):
        grid = grid_geoms[gi][1]
        outside_zone = grid.buffer(300).difference(grid)
        for day in range(7):
            day0 = end_s - (7 - day) * 86400  # local midnight
            start = day0 + 8.5 * 3600 + rng.normal(0, 1200)
            dur = 4 * 3600 + rng.normal(0, 1200)
            wps = geo.sample_in(grid, 40, rng)
            if not outside_zone.is_empty:
                out = geo.sample_in(outside_zone, 40, rng)
                mask = rng.random(40) < 0.06
                wps[mask] = out[mask]
            times, pts = [start], [wps[0]]
            t = start
            for k in range(1, len(wps)):
                d = float(np.hypot(*(wps[k] - wps[k - 1])))
                t += d / rng.uniform(0.9, 1.4)
                times.append(t)
                pts.append(wps[k])
                t += rng.uniform(60, 600)  # stop at the waypoint
                times.append(t)
                pts.append(wps[k])
                if t > start + dur:
                    break
            times_a, pts_a = np.array(times), np.array(pts)
            ft = np.arange(start, min(t, start + dur), 30.0)
            x = np.interp(ft, times_a, pts_a[:, 0])
            y = np.interp(ft, times_a, pts_a[:, 1])
            speed = np.concatenate([[0.0], np.hypot(np.diff(x), np.diff(y)) / 30.0])
            acc = rng.uniform(3, 12, len(ft))
            x += rng.normal(0, 4, len(ft))
            y += rng.normal(0, 4, len(ft))
            poor = rng.random(len(ft)) < 0.02
            acc[poor] = rng.uniform(60, 200, poor.sum())
            x[poor] += rng.normal(0, 80, poor.sum())
            y[poor] += rng.normal(0, 80, poor.sum())
            jump = rng.random(len(ft)) < 0.002
            ang = rng.uniform(0, 2 * math.pi, jump.sum())
            r = rng.uniform(500, 1500, jump.sum())
            x[jump] += r * np.cos(ang)
            y[jump] += r * np.sin(ang)
            n_jumps += int(jump.sum())
            n_poor += int(poor.sum())
            cols["worker_id"].append(np.full(len(ft), wi + 1))
            cols["t"].append(np.round(ft))
            cols["x"].append(x)
            cols["y"].append(y)
            cols["speed"].append(np.round(speed, 2))
            cols["acc"].append(np.round(acc, 1))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    lon, lat = g.inv.transform(out.pop("x"), out.pop("y"))
    out["lon"], out["lat"] = np.round(lon, 7), np.round(lat, 7)
    # fixes are unique per worker and second
    key = out["worker_id"] * 10**10 + out["t"].astype(np.int64)
    _, first = np.unique(key, return_index=True)
    out = {k: v[np.sort(first)] for k, v in out.items()}
    return out, {
        "planted_jumps": n_jumps,
        "poor_accuracy_fixes": n_poor,
        "fix_interval_s": 30,
        "from": _ts(end_s - 7 * 86400),
        "to": _ts(end_s),
    }


def counts_at_scale(scale: float) -> dict[str, int]:
    """The headline figures the generator aims for at `scale` (for tests and docs)."""
    return {"grids": round(1035 * scale), "workers": round(1065 * scale), "persons": round(220_000 * scale)}


if __name__ == "__main__":  # pragma: no cover
    import sys
    import time

    t0 = time.time()
    data = generate(float(sys.argv[1]) if len(sys.argv) > 1 else 0.02)
    print(json.dumps(data.manifest["counts"], indent=1), f"{time.time() - t0:.1f}s")
    _ = date

"""The demo district's standard addresses (一标三实): roads, door plates, buildings, units, rooms.

Every building gets a door plate on the named road nearest to it: odd numbers on one side,
even on the other, rising along the road; neighbouring residential buildings on the same side
share one plate as an estate (小区, with the name people call it by as an alias) and are
numbered 1号楼, 2号楼… in order along the road. Residential buildings have units of two flats
a floor (502 = fifth floor, second flat), as many as the building's households need. Rural
houses are numbered within their village group (东坎村三组15号), one household each. A tenth
of the roads carry a former name as an alias.

A random stream of its own, so the rest of the generated district is unchanged by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cn2an
import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point

from gis_core.geo.addresses import grams, normalize
from gis_core.geo.addresses import label as _label

ESTATE_ENDINGS = ("花园", "小区", "家园", "苑", "新村", "公寓")
#: residential buildings on one side of a road within this many metres share a door plate
ESTATE_SPAN_M = 160.0
ESTATE_MAX_BUILDINGS = 9
FLATS_PER_FLOOR = 2
#: houses per village group (村民小组)
GROUP_SIZE = 40
#: a standard address's code: the district's 12-digit code, a letter for the level, a sequence
CODE_LETTER = {"road": "L", "door": "M", "building": "B", "unit": "U", "room": "H"}


@dataclass
class Addresses:
    """Rows for `address` and `address_alias`, and what buildings, households and units attach to."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)  # the row with id i is rows[i - 1]
    aliases: list[tuple[Any, ...]] = field(default_factory=list)
    building_address: list[str] = field(default_factory=list)  # per building: its standard address
    building_door: list[int] = field(default_factory=list)  # per building: its door plate's id
    building_rooms: list[list[int]] = field(default_factory=list)  # per building: its rooms' ids

    def add(self, code: str, level: str, parent: int | None, label: str, number: int | None,
            full: str, search: str, building: int | None, ewkb: str) -> int:  # fmt: skip
        """Append one address row; its id (ids are explicit, parents before children)."""
        i = len(self.rows) + 1
        road_grams = grams(search) if level == "road" else None
        self.rows.append((code, level, parent, label, number, full, search, road_grams, building, ewkb))
        return i


def generate(
    rng: np.random.Generator,
    g: Any,  # data.demo_district._Geo
    district_code: str,
    district_name: str,
    net: Any,  # demo_geometry's road network (metric nodes, edges)
    edge_names: list[str],
    b_geoms: list[shapely.Geometry],
    b_use: list[str],
    b_floors: list[int],
    households: np.ndarray,
    communities: list[tuple[str, shapely.Geometry, bool, str, str]],  # code, geom, village, name, street name
    place: Any,  # () -> a fresh two-character place name
) -> Addresses:
    """The standard addresses of the demo district's buildings (see the module's docstring)."""
    out = Addresses()
    n_b = len(b_geoms)
    out.building_address = [""] * n_b
    out.building_door = [0] * n_b
    out.building_rooms = [[] for _ in range(n_b)]
    comm_tree = shapely.STRtree([c[1] for c in communities])

    def prefix(p: Point, community: bool = True) -> str:
        """What stands before a place's road: district, street and (unless a village group's) community."""
        hit = comm_tree.query(p, predicate="intersects")
        c = communities[int(hit[0])] if hit.size else communities[int(comm_tree.nearest(p))]
        return f"{district_name}{c[4]}{c[3] if community else ''}"

    seq = {"road": 0, "door": 0, "building": 0, "unit": 0, "room": 0}

    def code(level: str) -> str:
        seq[level] += 1
        return f"{district_code}{CODE_LETTER[level]}{seq[level]:07d}"

    # roads: the named edges of each name together
    by_name: dict[str, list[int]] = {}
    for ei, ((_, _, kind), name) in enumerate(zip(net.edges, edge_names, strict=True)):
        if kind != "rural" and name != "乡道":
            by_name.setdefault(name, []).append(ei)
    names = sorted(by_name)
    lines = [
        MultiLineString(
            [LineString([net.nodes[net.edges[e][0]], net.nodes[net.edges[e][1]]]) for e in by_name[n]]
        )
        for n in names
    ]
    road_ids = []
    for name, line in zip(names, lines, strict=True):
        mid = shapely.line_interpolate_point(line, 0.5, normalized=True)
        road_ids.append(
            out.add(code("road"), "road", None, name, None, name, normalize(name), None, g.ewkb(mid))
        )
        if rng.random() < 0.1:
            former = place() + name[2:]
            out.aliases.append((road_ids[-1], former, "former", normalize(former), grams(normalize(former))))
    edge_lines = [LineString([net.nodes[a], net.nodes[b]]) for a, b, _ in net.edges]
    named_edges = np.array([e for n in names for e in by_name[n]])
    edge_road = {int(e): ri for ri, n in enumerate(names) for e in by_name[n]}
    edge_tree = shapely.STRtree([edge_lines[e] for e in named_edges])

    urban = [i for i in range(n_b) if b_use[i] != "rural_house"]
    centres = shapely.centroid(np.asarray(b_geoms, dtype=object))
    nearest = edge_tree.query_nearest(centres[urban], return_distance=False, all_matches=False)
    # road → (its edge's place in the road, position along that edge, side, building); a road's
    # edges need not meet, so positions are taken along each edge (GEOS measures a multi-line's
    # parts end to end, and a point projected onto it came back hundreds of metres away)
    per_road: dict[int, list[tuple[int, float, int, int]]] = {}
    edge_rank = {int(e): k for n in names for k, e in enumerate(by_name[n])}
    for bi, ti in zip(np.asarray(urban)[nearest[0]], nearest[1], strict=True):
        e = int(named_edges[ti])
        (x0, y0), (x1, y1) = edge_lines[e].coords
        c = centres[bi]
        side = 1 if (x1 - x0) * (c.y - y0) - (y1 - y0) * (c.x - x0) >= 0 else -1
        per_road.setdefault(edge_road[e], []).append((e, float(edge_lines[e].project(c)), side, int(bi)))
    for road, found in per_road.items():
        next_no = {1: 1, -1: 2}
        found.sort(key=lambda f: (edge_rank[f[0]], f[1]))
        for side in (1, -1):
            group: list[tuple[int, float, int]] = []  # (edge, position, building)
            for e, pos, s, bi in found:
                if s != side:
                    continue
                joins = (
                    group
                    and b_use[bi] == "residential"
                    and b_use[group[0][2]] == "residential"
                    and e == group[0][0]
                    and pos - group[0][1] <= ESTATE_SPAN_M
                    and len(group) < ESTATE_MAX_BUILDINGS
                )
                if group and not joins:
                    _door(out, rng, g, code, prefix, road_ids[road], names[road], edge_lines[group[0][0]],
                          next_no[side], group, centres, b_use, b_floors, households, place)  # fmt: skip
                    next_no[side] += 2
                    group = []
                group.append((e, pos, bi))
            if group:
                _door(out, rng, g, code, prefix, road_ids[road], names[road], edge_lines[group[0][0]],
                      next_no[side], group, centres, b_use, b_floors, households, place)  # fmt: skip
                next_no[side] += 2
    _villages(out, g, code, prefix, communities, centres, b_use)
    return out


def _door(out, rng, g, code, prefix, road_id, road_name, line, number, group, centres, b_use, b_floors,
          households, place) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """One door plate on the edge `line` for the buildings of `group`; their buildings, units and rooms."""
    first = centres[group[0][2]]
    on_road = line.interpolate(line.project(first))
    dx, dy = first.x - on_road.x, first.y - on_road.y
    d = math.hypot(dx, dy) or 1.0
    gate = Point(on_road.x + dx / d * min(8.0, d), on_road.y + dy / d * min(8.0, d))
    full = f"{prefix(gate)}{road_name}{_label('door', number)}"
    door = out.add(code("door"), "door", road_id, _label("door", number), number, full, normalize(full), None,
                   g.ewkb(gate))  # fmt: skip
    if len(group) > 1:
        estate = place() + ESTATE_ENDINGS[int(rng.integers(len(ESTATE_ENDINGS)))]
        out.aliases.append((door, estate, "estate", normalize(estate), grams(normalize(estate))))
    for k, (_, _, bi) in enumerate(group, start=1):
        label = _label("building", k) if len(group) > 1 else ""
        b_full = full + label
        pt = g.ewkb(centres[bi])
        b = out.add(code("building"), "building", door, label, k, b_full, normalize(b_full), bi + 1, pt)
        out.building_address[bi], out.building_door[bi] = b_full, door
        h = int(households[bi])
        if b_use[bi] != "residential" or h == 0:
            continue
        floors = int(b_floors[bi])
        n_units = max(1, math.ceil(h / (FLATS_PER_FLOOR * floors)))
        made = 0
        for u in range(1, n_units + 1):
            u_full = b_full + _label("unit", u)
            unit = out.add(
                code("unit"), "unit", b, _label("unit", u), u, u_full, normalize(u_full), bi + 1, pt
            )
            for f in range(1, floors + 1):
                for flat in range(1, FLATS_PER_FLOOR + 1):
                    if made == h:
                        break
                    no = f * 100 + flat
                    r_full = u_full + _label("room", no)
                    out.building_rooms[bi].append(
                        out.add(
                            code("room"),
                            "room",
                            unit,
                            _label("room", no),
                            no,
                            r_full,
                            normalize(r_full),
                            bi + 1,
                            pt,
                        )
                    )
                    made += 1


def _villages(out, g, code, prefix, communities, centres, b_use) -> None:  # type: ignore[no-untyped-def]
    """Rural houses: numbered within village groups of GROUP_SIZE houses, by bearing from the village hub."""
    villages = [c for c in communities if c[2]]
    houses = [i for i in range(len(b_use)) if b_use[i] == "rural_house"]
    if not houses:
        return
    tree = shapely.STRtree([c[1] for c in villages])
    owner = tree.query_nearest(centres[houses], return_distance=False, all_matches=False)
    by_village: dict[int, list[int]] = {}
    for hi, vi in zip(owner[0], owner[1], strict=True):
        by_village.setdefault(int(vi), []).append(houses[int(hi)])
    for vi, members in sorted(by_village.items()):
        hub = villages[vi][1].representative_point()
        members.sort(key=lambda b: math.atan2(centres[b].y - hub.y, centres[b].x - hub.x))
        for gi in range(0, len(members), GROUP_SIZE):
            name = f"{villages[vi][3]}{cn2an.an2cn(gi // GROUP_SIZE + 1)}组"
            road = out.add(code("road"), "road", None, name, None, name, normalize(name), None,
                           g.ewkb(centres[members[gi]]))  # fmt: skip
            for no, bi in enumerate(members[gi : gi + GROUP_SIZE], start=1):
                c = centres[bi]
                gate = Point(c.x, c.y - 7.0)
                full = f"{prefix(gate, community=False)}{name}{_label('door', no)}"
                n_label = _label("door", no)
                door = out.add(code("door"), "door", road, n_label, no, full, normalize(full), None,
                               g.ewkb(gate))  # fmt: skip
                pt = g.ewkb(c)
                b = out.add(code("building"), "building", door, "", 1, full, normalize(full), bi + 1, pt)
                room = out.add(code("room"), "room", b, "", 1, full, normalize(full), bi + 1, pt)
                out.building_address[bi], out.building_door[bi] = full, door
                out.building_rooms[bi].append(room)

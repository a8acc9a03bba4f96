"""Polygonal coverages: each level of the hierarchy as polygons that share their edges exactly.

A coverage is *noded* when neighbours on a shared edge share its vertices; then vertex-based
tools (libpysal's `Queen`, topology editors) agree with the geometry about who touches whom.
GEOS does the work (shapely 2.2: `coverage_invalid_edges` finds edges that are not matched,
`coverage_clean` snaps, nodes, removes overlaps and closes gaps narrower than a width); this
module runs it in metres and says what moved, so an import can report every vertex it changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import shapely

from gis_core.geo.crs import from_wgs84, to_wgs84

#: Vertices this close (metres) are one vertex: coordinates survive the round trip through
#: lon/lat and WKB far more precisely, so a noded coverage stays noded in the database.
NODE_M = 0.001


@dataclass(frozen=True)
class Change:
    """One vertex of one polygon that cleaning moved, added or removed."""

    code: str
    kind: str  # moved | added | removed
    lon: float
    lat: float
    metres: float  # how far it moved (moved), or how far from the old boundary it lies (added/removed)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def in_metres(geoms: np.ndarray, epsg: int) -> np.ndarray:
    """Lon/lat geometries in the metric CRS `epsg`."""
    return shapely.transform(geoms, lambda c: np.column_stack(from_wgs84(c[:, 0], c[:, 1], epsg)))


def in_degrees(geoms: np.ndarray, epsg: int) -> np.ndarray:
    """Geometries in the metric CRS `epsg` back in lon/lat."""
    return shapely.transform(geoms, lambda c: np.column_stack(to_wgs84(c[:, 0], c[:, 1], epsg)))


def densify(geom: shapely.Geometry, segment: float) -> shapely.Geometry:
    """`geom` with no edge longer than `segment`, its polygons' area kept.

    GEOS's densifier mends a polygon it finds invalid afterwards with `buffer(0)`, and a ring that
    all but touches itself (a cell of Yuanbao's town pinched to 2e-10 m) comes back as slivers of
    no area (as does `make_valid`'s "structure" method). Densified ring by ring and, where that
    leaves a ring crossing itself by a hair, made valid along its linework, it keeps its area.
    """
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return shapely.segmentize(geom, segment)
    parts = [
        shapely.Polygon(
            shapely.segmentize(p.exterior, segment), [shapely.segmentize(r, segment) for r in p.interiors]
        )
        for p in shapely.get_parts(geom)
    ]
    out = parts[0] if geom.geom_type == "Polygon" else shapely.MultiPolygon(parts)
    if out.is_valid:
        return out
    polygons = [
        g for g in shapely.get_parts(shapely.make_valid(out)) if g.geom_type in ("Polygon", "MultiPolygon")
    ]
    return shapely.union_all(polygons)


def node(metric: Sequence[shapely.Geometry], tolerance_m: float = NODE_M) -> np.ndarray:
    """Polygons in metres noded and cleaned within `tolerance_m`.

    Vertices that close merged, shared edges made identical, overlaps given to the neighbour
    with the longest border, and gaps narrower than `tolerance_m` closed.
    """
    cleaned = _clean(np.asarray(metric, dtype=object), tolerance_m)
    # GEOS can leave a part narrower than the tolerance where three outlines meet (a triangle of
    # 5e-10 m² was seen): without it the hole is a gap the second pass gives to a neighbour
    trimmed = [_without_thin_parts(g, tolerance_m) for g in cleaned]
    if any(t is not g for t, g in zip(trimmed, cleaned, strict=True)):
        cleaned = _clean(np.asarray(trimmed, dtype=object), tolerance_m)
    return cleaned


def _clean(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    cleaned = shapely.coverage_clean(geoms, gap_width=tolerance_m, snapping_distance=tolerance_m)
    return np.asarray([shapely.make_valid(g) if not g.is_valid else g for g in cleaned], dtype=object)


def _without_thin_parts(geom: shapely.Geometry, width_m: float) -> shapely.Geometry:
    """`geom` itself, or without its parts whose mean width (2 · area / perimeter) is under `width_m`."""
    parts = shapely.get_parts(geom)
    keep = 2 * shapely.area(parts) >= width_m * shapely.length(parts)
    if keep.all() or not keep.any():
        return geom
    return shapely.MultiPolygon(list(parts[keep]))


def area_m2(geom: shapely.Geometry, epsg: int) -> float:
    """The area of a lon/lat geometry in square metres, in the metric CRS `epsg`."""
    return float(shapely.area(in_metres(np.asarray([geom], dtype=object), epsg))[0])


def length_m(geom: shapely.Geometry, epsg: int) -> float:
    """The length of lon/lat lines in metres, in the metric CRS `epsg`."""
    return float(shapely.length(in_metres(np.asarray([geom], dtype=object), epsg))[0])


def invalid_edges(geoms: Sequence[shapely.Geometry], epsg: int, gap_m: float = 0.01) -> np.ndarray:
    """Per lon/lat polygon, its edges no neighbour matches, as lon/lat lines (empty where clean).

    Unnoded shared edges, overlaps and gaps narrower than `gap_m`. The default width is a
    centimetre: an edge that runs a hair beside its neighbour's, as one with a vertex the
    neighbour lacks does after a round trip through lon/lat, is unnoded too (GEOS reports only
    interacting edges at width 0).
    """
    metric = in_metres(np.asarray(geoms, dtype=object), epsg)
    return in_degrees(shapely.coverage_invalid_edges(metric, gap_width=gap_m), epsg)


def clean(
    codes: Sequence[str], geoms: Sequence[shapely.Geometry], epsg: int, tolerance_m: float
) -> tuple[np.ndarray, list[Change]]:
    """Lon/lat polygons cleaned within `tolerance_m` metres, and every vertex that changed.

    Cleaned in lon/lat (the tolerance taken along a degree of longitude, the shorter one), so
    that what did not need cleaning keeps its coordinates to the last bit; distances in the
    report are in metres.
    """
    before = np.asarray(geoms, dtype=object)
    tol = tolerance_m / _metres_per_degree(before)
    after = shapely.coverage_clean(before, gap_width=tol, snapping_distance=tol)
    after = np.asarray([shapely.make_valid(g) if not g.is_valid else g for g in after], dtype=object)
    old_m, new_m = in_metres(before, epsg), in_metres(after, epsg)
    changes: list[Change] = []
    for code, old, new in zip(codes, old_m, new_m, strict=True):
        changes += _changes(code, old, new, epsg, tolerance_m)
    return after, changes


def _metres_per_degree(geoms: np.ndarray) -> float:
    """Metres in a degree of longitude at the highest latitude of `geoms` (the shortest degree)."""
    lat = np.abs(shapely.get_coordinates(geoms)[:, 1]).max()
    return 111_320.0 * float(np.cos(np.radians(lat)))


#: Closer than this (metres), two vertices are the same vertex in a change report.
SAME_M = 1e-6


def _changes(
    code: str, old: shapely.Geometry, new: shapely.Geometry, epsg: int, reach_m: float
) -> list[Change]:
    """What became of each vertex: kept, moved, removed; and which vertices were added.

    Moved: a new vertex within `reach_m` took its place. Added: a neighbour's vertex noded into
    an edge. A vertex dropped but still on the boundary (redundant) is no change.
    """
    a = np.unique(shapely.get_coordinates(old), axis=0)
    b = np.unique(shapely.get_coordinates(new), axis=0)
    a_pts, b_pts = shapely.points(a), shapely.points(b)
    a_tree, b_tree = shapely.STRtree(a_pts), shapely.STRtree(b_pts)
    a_near, a_d = b_tree.query_nearest(a_pts, return_distance=True, all_matches=False)
    b_near, b_d = a_tree.query_nearest(b_pts, return_distance=True, all_matches=False)
    gone = a_near[0][a_d > SAME_M]
    fresh = set(b_near[0][b_d > SAME_M].tolist())
    out: list[Change] = []
    for i in gone:
        d = shapely.distance(a_pts[i], b_pts[sorted(fresh)]) if fresh else np.empty(0)
        k = int(np.argmin(d)) if len(d) else -1
        if k >= 0 and d[k] <= reach_m:
            j = sorted(fresh)[k]
            fresh.discard(j)
            out.append(_change(code, "moved", tuple(b[j]), float(d[k]), epsg))
        elif (off := float(shapely.distance(a_pts[i], new.boundary))) > SAME_M:  # else: a redundant vertex
            out.append(_change(code, "removed", tuple(a[i]), off, epsg))
    for j in sorted(fresh):
        out.append(_change(code, "added", tuple(b[j]), float(shapely.distance(b_pts[j], old.boundary)), epsg))
    return out


def _change(code: str, kind: str, xy: tuple[float, ...], metres: float, epsg: int) -> Change:
    lon, lat = to_wgs84(xy[0], xy[1], epsg)
    return Change(code, kind, round(float(lon), 8), round(float(lat), 8), round(metres, 4))


def snap_to(
    geoms: Sequence[shapely.Geometry], context: Sequence[shapely.Geometry], tolerance_m: float
) -> np.ndarray:
    """Lon/lat polygons noded against neighbours that stay as they are.

    Each vertex within `tolerance_m` of a neighbour's vertex is moved onto it, and the
    neighbours' vertices on their edges are inserted. Done in lon/lat, so the shared vertices
    are the neighbours' own doubles (a round trip through metres would leave them a few
    nanometres apart).
    """
    out = np.asarray(geoms, dtype=object)
    if not len(context):
        return out
    around = np.asarray(context, dtype=object)
    xy = shapely.get_coordinates(around)
    tol = tolerance_m / _metres_per_degree(around)
    tree = shapely.STRtree(shapely.points(xy))
    # only the neighbours' vertices near each outline: snapping cost grows with both counts
    near = [tree.query(shapely.boundary(g), predicate="dwithin", distance=tol) for g in out]
    return np.asarray(
        [
            shapely.snap(g, shapely.multipoints(xy[k]), tol) if len(k) else g
            for g, k in zip(out, near, strict=True)
        ],
        dtype=object,
    )

"""`onegrid import`: GeoJSON, GeoPackage and Shapefile into the domain tables.

Files are read by geopandas through pyogrio (GDAL), reprojected to EPSG:4326 from the CRS
they declare, and checked feature by feature. Invalid geometry is repaired with
`shapely.make_valid` and reported, or (with `invalid="reject"`) rejects the file. Any
feature that cannot be stored (no geometry, wrong type, missing code, no parent unit)
rejects the whole file: an import is all or nothing. Rows are matched on `code`, and only
new or different rows are written, so re-importing a file changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa
from shapely.validation import explain_validity

from gis_core.geo.crs import parse_crs
from gis_core.ingest import partition
from gis_core.ingest.import_kinds import IMPORT_KINDS, POLY_COLUMN_IS_MULTI, REQUIRED, ImportKind
from gis_core.platform.errors import UnknownCRSError


@dataclass
class ImportReport:
    """What an import did, feature by feature where something needed saying."""

    file: str
    kind: str
    source_crs: str | None = None
    features: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cleaned: list[dict[str, Any]] = field(default_factory=list)  # vertices moved/added/removed

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class ImportRejected(Exception):
    """The file was not imported; `report` says why, feature by feature."""

    def __init__(self, report: ImportReport, reason: str):
        super().__init__(reason)
        self.report = report
        self.reason = reason
        report.warnings.append(reason)


def _read(path: Path, layer: str | None, report: ImportReport) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # noqa: BLE001 - GDAL raises many kinds; all mean "unreadable"
        raise ImportRejected(report, f"cannot read {path.name}: {exc}") from exc


def _to_wgs84(gdf: gpd.GeoDataFrame, source_crs: str | None, report: ImportReport) -> gpd.GeoDataFrame:
    if source_crs:
        try:
            spec = parse_crs(source_crs)
        except UnknownCRSError as exc:
            raise ImportRejected(report, exc.detail) from exc
        if spec.kind != "epsg":
            from gis_core.geo.crs import to_wgs84

            report.source_crs = spec.label
            moved = shapely.transform(
                gdf.geometry.values, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], spec))
            )
            return gdf.set_geometry(gpd.GeoSeries(moved, index=gdf.index, crs=4326))
        gdf = gdf.set_crs(spec.epsg, allow_override=True)
    if gdf.crs is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
            report.warnings.append("file declares no CRS; coordinates look geographic, EPSG:4326 assumed")
            gdf = gdf.set_crs(4326)
        else:
            raise ImportRejected(
                report, "file declares no CRS and its coordinates are not lon/lat; give --crs"
            )
    epsg = gdf.crs.to_epsg()
    report.source_crs = f"EPSG:{epsg}" if epsg else gdf.crs.to_string()
    return gdf if epsg == 4326 else gdf.to_crs(4326)


def _check_lonlat(i: int, code: Any, geom: shapely.Geometry, report: ImportReport) -> bool:
    """Reject coordinates that cannot be lon/lat (a file in another CRS than it declares)."""
    minx, miny, maxx, maxy = geom.bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return True
    report.rejected.append(
        {
            "feature": i,
            "code": code,
            "reason": "coordinates are not longitude/latitude after reprojection; "
            "is the file's CRS right? (give --crs)",
        }
    )
    return False


def _fix_geometry(
    i: int, code: Any, geom: Any, kind: ImportKind, invalid: str, report: ImportReport
) -> shapely.Geometry | None:
    """A storable geometry for feature `i`, or None after recording why not."""
    if geom is None or geom.is_empty:
        report.rejected.append({"feature": i, "code": code, "reason": "no geometry"})
        return None
    if not geom.is_valid:
        reason = explain_validity(geom)
        if invalid == "reject":
            report.rejected.append({"feature": i, "code": code, "reason": f"invalid geometry: {reason}"})
            return None
        fixed = shapely.make_valid(geom)
        report.repaired.append(
            {"feature": i, "code": code, "reason": reason, "area_before": geom.area, "area_after": fixed.area}
        )
        geom = fixed
    polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    points = [g for g in shapely.get_parts(geom) if g.geom_type == "Point"]
    if kind.geometry in ("polygon", "point_or_polygon") and polys and not points:
        flat = [p for g in polys for p in shapely.get_parts(g)]
        if kind.table in POLY_COLUMN_IS_MULTI or len(flat) > 1:
            return shapely.MultiPolygon(flat)
        return flat[0]
    if kind.geometry in ("point", "point_or_polygon") and len(points) == 1 and not polys:
        return points[0]
    report.rejected.append(
        {"feature": i, "code": code, "reason": f"{geom.geom_type} is not a {kind.geometry.replace('_', ' ')}"}
    )
    return None


def _attributes(
    i: int, props: dict[str, Any], kind: ImportKind, report: ImportReport
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for col, (typ, default) in kind.columns.items():
        # Shapefile (dBase) truncates field names to 10 characters: bearing_deg -> bearing_de
        v = props.get(col, props.get(col[:10]))
        if v is None or (isinstance(v, float) and v != v):
            if default is REQUIRED:
                report.rejected.append({"feature": i, "code": props.get("code"), "reason": f"missing {col}"})
                return None
            v = default
        try:
            out[col] = None if v is None else typ(v)  # an optional field left out stays NULL
        except (TypeError, ValueError):
            report.rejected.append(
                {"feature": i, "code": props.get("code"), "reason": f"{col}={v!r} is not {typ.__name__}"}
            )
            return None
    if kind.parent:
        out[kind.parent[0]] = props.get(kind.parent[0], props.get(kind.parent[0][:10]))
    return out


def import_file(
    engine: sa.Engine,
    path: Path,
    kind: str,
    invalid: str = "repair",
    layer: str | None = None,
    source_crs: str | None = None,
    clean_coverage_m: float | None = None,
) -> ImportReport:
    """Import `path` as `kind`; returns the report or raises ImportRejected (nothing stored).

    A level of the hierarchy must stay a partition of its parent: the import is refused when it
    would add a gap, overlap, protrusion, unnoded edge or sliver (`check_topology`). With
    `clean_coverage_m`, the file's polygons are first snapped and noded as one coverage within
    that many metres, and every vertex moved, added or removed is reported.
    """
    if kind == "address":  # a hierarchy of its own, parents in the same file
        from gis_core.ingest.address_import import import_addresses

        return import_addresses(engine, path, layer, source_crs)
    spec = IMPORT_KINDS[kind]
    report = ImportReport(file=str(path), kind=kind)
    gdf = _to_wgs84(_read(path, layer, report), source_crs, report)
    report.features = len(gdf)
    rows: list[dict[str, Any]] = []
    props_list = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    for i, (props, geom) in enumerate(zip(props_list, gdf.geometry.values, strict=True)):
        attrs = _attributes(i, props, spec, report)
        fixed = _fix_geometry(i, props.get("code"), geom, spec, invalid, report)
        if attrs is None or fixed is None or not _check_lonlat(i, props.get("code"), fixed, report):
            continue
        attrs["geom"] = fixed
        rows.append(attrs)
    if clean_coverage_m is not None and rows:
        if spec.geometry != "polygon":
            raise ImportRejected(report, f"--clean-coverage applies to polygon layers, not {kind}")
        partition.clean_rows(rows, spec, clean_coverage_m, report)
    if spec.table in partition.LEVELS and rows:
        partition.node_to_neighbours(engine, rows, spec, clean_coverage_m)
    for attrs in rows:
        attrs["wkb"] = shapely.to_wkb(attrs.pop("geom"), hex=True)
    codes = [r["code"] for r in rows]
    if len(set(codes)) != len(codes):
        dup = sorted({c for c in codes if codes.count(c) > 1})
        report.rejected.append({"feature": None, "code": dup, "reason": "duplicate codes in file"})
    if report.rejected:
        raise ImportRejected(report, f"{len(report.rejected)} feature(s) cannot be stored; nothing imported")
    with engine.begin() as conn:
        before = partition.defects(conn, spec)
        _upsert(conn, spec, rows, report)
        if report.rejected:
            raise ImportRejected(report, "features outside the district or any parent unit; nothing imported")
        broken = partition.new_defects(before, partition.defects(conn, spec))
        if broken:
            report.rejected += [
                {"feature": None, "code": d.codes, "reason": d.kind, **d.as_dict()} for d in broken
            ]
            why = f"the file would break the {kind} partition in {len(broken)} place(s); nothing imported"
            raise ImportRejected(report, why)
    return report


def _upsert(conn: sa.Connection, spec: ImportKind, rows: list[dict[str, Any]], report: ImportReport) -> None:
    """Stage the rows, then insert the new and update the different ones, by code."""
    cols = list(spec.columns)
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE import_stage (n int, "
            + ", ".join(f"{c} text" for c in cols)
            + ", parent_code text, geom geometry) ON COMMIT DROP"
        )
    )
    parent_attr = spec.parent[0] if spec.parent else None
    conn.execute(
        sa.text(
            "INSERT INTO import_stage VALUES (:n, "
            + ", ".join(f":{c}" for c in cols)
            + ", :parent, ST_SetSRID(ST_GeomFromWKB(decode(:wkb, 'hex')), 4326))"
        ),
        [
            {
                **{c: (None if r[c] is None else str(r[c])) for c in cols},
                "n": i,
                "wkb": r["wkb"],
                "parent": r.get(parent_attr) if parent_attr else None,
            }
            for i, r in enumerate(rows)
        ],
    )
    table = spec.table
    # cast to the column's own type, so that e.g. real columns compare equal on re-import
    types: dict[str, str] = dict(
        conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"
            ),
            {"t": table},
        ).all()
    )
    src = [f"CAST(s.{c} AS {types[c]})" for c in cols]
    dst_cols = [*cols, "geom"]
    src_vals = [*src, "s.geom"]
    if spec.parent:
        _, ptable, fk = spec.parent
        # the parent named by code, else the one containing the feature
        conn.execute(
            sa.text(
                f"ALTER TABLE import_stage ADD COLUMN parent_id int; "
                f"UPDATE import_stage s SET parent_id = coalesce("
                f"(SELECT p.id FROM {ptable} p WHERE p.code = s.parent_code), "
                f"(SELECT p.id FROM {ptable} p WHERE ST_Intersects(p.geom, ST_PointOnSurface(s.geom)) "
                f"ORDER BY p.code LIMIT 1))"
            )
        )
        for r in conn.execute(sa.text("SELECT n, code FROM import_stage WHERE parent_id IS NULL ORDER BY n")):
            report.rejected.append({"feature": r.n, "code": r.code, "reason": f"no {ptable} contains it"})
        if report.rejected:
            return
        dst_cols.append(fk)
        src_vals.append("s.parent_id")
    elif table != "district":
        # anchored entities must lie in a grid of the district
        for r in conn.execute(
            sa.text(
                "SELECT n, code FROM import_stage s "
                "WHERE NOT EXISTS (SELECT 1 FROM grid_of(s.geom)) ORDER BY n"
            )
        ):
            report.rejected.append({"feature": r.n, "code": r.code, "reason": "outside the district"})
        if report.rejected:
            return
    differs = f"({', '.join('t.' + c for c in dst_cols)}) IS DISTINCT FROM ({', '.join(src_vals)})"
    absent = f"NOT EXISTS (SELECT 1 FROM {table} t WHERE t.code = s.code)"
    new = conn.execute(sa.text(f"SELECT count(*) FROM import_stage s WHERE {absent}")).scalar_one()
    changed = conn.execute(
        sa.text(f"SELECT count(*) FROM import_stage s JOIN {table} t ON t.code = s.code WHERE {differs}")
    ).scalar_one()
    # Statements run only when they have rows: statement triggers (boundary revision) stay quiet.
    if new:
        conn.execute(
            sa.text(
                f"INSERT INTO {table} ({', '.join(dst_cols)}) "
                f"SELECT {', '.join(src_vals)} FROM import_stage s WHERE {absent}"
            )
        )
    if changed:
        conn.execute(
            sa.text(
                f"UPDATE {table} t SET ({', '.join(dst_cols)}) = ({', '.join(src_vals)}) "
                f"FROM import_stage s WHERE t.code = s.code AND {differs}"
            )
        )
    report.inserted, report.updated = int(new), int(changed)
    report.unchanged = len(rows) - report.inserted - report.updated

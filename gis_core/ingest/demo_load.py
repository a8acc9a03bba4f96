"""Load the generated demo district into PostGIS with COPY, and create the demo accounts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.field.tracks import KEPT, REASON_NAMES, Fixes, Limits, classify
from gis_core.geo.crs import transformer
from gis_core.ingest.bulk import copy_lines, copy_rows
from gis_core.platform.accounts import DEMO_PASSWORD
from gis_core.platform.sealed_columns import SEALED, seal_rows
from gis_core.platform.sealing import sealer

#: Tables that get explicit ids from the generator, so link tables can refer to them.
_EXPLICIT_IDS = {"building", "address", "camera", "cold_chain_site", "worker", "incident"}
#: Large tables whose secondary indexes are built after the COPY rather than during it.
_DEFERRED_INDEXES = {"person", "incident_event", "track_point"}
#: Tables whose parent is named by code in the generated rows: (code column, parent, fk column).
_BY_CODE = {
    "street": ("district_code", "district", "district_id"),
    "community": ("street_code", "street", "street_id"),
    "grid": ("community_code", "community", "community_id"),
    "worker_grid": ("grid_code", "grid", "grid_id"),
}
DOMAIN_TABLES = [
    "incident_photo",
    "incident_event",
    "incident",
    "warning",
    "track_point",
    "track_rejected",
    "worker_grid",
    "worker",
    "api_token",
    "app_user",
    "cold_chain_camera",
    "cold_chain_reading",
    "cold_chain_site",
    "camera",
    "key_point",
    "service_center",
    "party_org",
    "unit",
    "person",
    "address_alias",
    "address",
    "building",
    "road",
    "road_vertex",
    "category",
    "department",
    "grid",
    "community",
    "street",
    "district",
    "demo_manifest",
]
#: One demo account per role: (username, display name, role, jurisdiction source).
DEMO_ACCOUNTS = [
    ("admin", "系统管理员", "admin", "district"),
    ("commander", "指挥中心值班长", "commander", "district"),
    ("street", "街道干部", "street_officer", "street"),
    ("community", "社区干部", "community_officer", "community"),
    ("gridworker", "网格员", "grid_worker", "grid"),
    ("handler", "城管执法局处置员", "department_handler", "district"),
    ("planner", "规划分析员", "planner", "district"),
    ("citizen", "市民", "citizen", None),
]


def demo_loaded(engine: sa.Engine) -> bool:
    """Whether a demo district has been loaded into this database."""
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM demo_manifest")).scalar())


def load_demo(
    engine: sa.Engine,
    scale: float = 1.0,
    seed: int = 20261122,
    progress: Callable[[str], Any] = lambda _m: None,
    end: datetime | None = None,
    districts: int = 1,
) -> dict[str, Any]:
    """Generate the demo district and replace the database's contents with it.

    Its year of incidents and week of tracks end at `end` (default: the fixed date the tests and
    benchmarks compare against; `onegrid demo load` gives the start of today, so a demo loaded
    today is current today). `districts` > 1 loads a demo city: that many districts side by
    side (`data.demo_city`), each generated with a seed of its own, one at a time.

    Returns the manifest (counts, planted hotspots, track truth) of the first district, with
    every district's code, name and counts under `districts`.
    """
    from data.demo_city import SHARED, city, localise, shift_ids
    from data.demo_district import DEFAULT_END, generate

    t0 = time.monotonic()

    def say(msg: str) -> None:
        progress(f"[{time.monotonic() - t0:6.1f}s] {msg}")

    units = city(districts)
    loaded: dict[str, int] = {}  # rows per table so far: the next district's id offsets
    used_ids: set[str] = set()
    manifest: dict[str, Any] = {}
    with engine.begin() as conn, ExitStack() as deferred:
        raw = conn.connection.driver_connection
        conn.execute(sa.text("TRUNCATE " + ", ".join(DOMAIN_TABLES) + " RESTART IDENTITY CASCADE"))
        for name in _DEFERRED_INDEXES:
            deferred.enter_context(_indexes_deferred(conn, name))
        for k, unit in enumerate(units):
            say(f"generating {unit.name} (scale {scale}, seed {seed + 1000 * k})")
            data = generate(
                scale=scale, seed=seed + 1000 * k, end=end or DEFAULT_END, unit=unit, used_ids=used_ids
            )
            say("generated; loading")
            offsets = dict(loaded)  # rows of the districts before this one
            for table in data.tables:
                if k and table.name in SHARED:
                    continue
                cols, rows = list(table.columns), table.rows
                if k:
                    rows = shift_ids(table.name, cols, localise(table.name, cols, rows, unit), offsets)
                n = _copy_table(conn, raw, table.name, cols, rows, first_id=offsets.get(table.name, 0) + 1)
                loaded[table.name] = loaded.get(table.name, 0) + n
                say(f"{table.name:18s} {n:>9,d} rows")
            tracks = {**data.tracks, "worker_id": data.tracks["worker_id"] + offsets.get("worker", 0)}
            n = _copy_tracks(conn, raw, tracks, int(data.manifest["metric_epsg"]))
            say(f"{'track_point':18s} {n:>9,d} rows")
            manifest = manifest or data.manifest
            manifest.setdefault("districts", []).append(
                {"code": unit.code, "name": unit.name, "counts": data.manifest["counts"]}
            )
            del data, tracks
        deferred.close()  # the deferred indexes, rebuilt once for the whole load
        for name in _EXPLICIT_IDS:
            conn.execute(
                sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {max(loaded[name], 1)})")
            )
        _create_demo_accounts(conn)
        conn.execute(
            sa.text("INSERT INTO demo_manifest (manifest) VALUES (CAST(:m AS jsonb))"),
            {"m": json.dumps(manifest, ensure_ascii=False)},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # vacuumed as well as analysed: otherwise autovacuum comes for the millions of freshly
        # copied rows (setting hint bits and the visibility map) while the district is in use
        conn.execute(sa.text("VACUUM (ANALYZE)"))
    say("loaded, vacuumed and analysed")
    return manifest


def _copy_table(conn: sa.Connection, raw: Any, name: str, cols: list[str], rows: list, first_id: int) -> int:  # type: ignore[type-arg]
    """COPY one generated table: explicit ids from `first_id`, sealed columns sealed, parents by code."""
    if name in _EXPLICIT_IDS:
        cols = ["id", *cols]
        rows = [(first_id + i, *r) for i, r in enumerate(rows)]
    if name in SEALED:  # the generator's clear ID numbers and phones never reach the database
        cols, rows = seal_rows(sealer(), cols, rows, SEALED[name])  # type: ignore[assignment]
    if name in _BY_CODE:
        return _copy_by_code(conn, raw, name, cols, rows)
    return copy_rows(raw, name, cols, rows)


def _copy_by_code(conn: sa.Connection, raw: Any, name: str, cols: list[str], rows: list) -> int:  # type: ignore[type-arg]
    """COPY into a staging table, then insert with the parent's id looked up by code."""
    code_col, parent, fk = _BY_CODE[name]
    stage = f"stage_{name}"
    conn.execute(sa.text(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT * FROM {name} WITH NO DATA"))
    conn.execute(sa.text(f"ALTER TABLE {stage} ADD COLUMN {code_col} text, DROP COLUMN IF EXISTS id"))
    conn.execute(sa.text(f"ALTER TABLE {stage} ALTER COLUMN {fk} DROP NOT NULL"))
    n = copy_rows(raw, stage, cols, rows)
    plain = [c for c in cols if c != code_col]
    select = ", ".join(f"s.{c}" for c in plain)
    conn.execute(
        sa.text(
            f"INSERT INTO {name} ({', '.join(plain)}, {fk}) "
            f"SELECT {select}, p.id FROM {stage} s JOIN {parent} p ON p.code = s.{code_col}"
        )
    )
    conn.execute(sa.text(f"DROP TABLE {stage}"))  # the next district's rows stage afresh
    return n


@contextmanager
def _indexes_deferred(conn: sa.Connection, table: str) -> Iterator[None]:
    """Drop `table`'s secondary indexes for a bulk load and rebuild them afterwards.

    The definitions are read back from the catalogue, so the migration stays the only
    place that declares them; a sorted GiST build is far faster than row-by-row inserts.
    """
    defs = conn.execute(
        sa.text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary AND NOT x.indisunique"
        ),
        {"t": table},
    ).all()
    for name, _ in defs:
        conn.execute(sa.text(f'DROP INDEX "{name}"'))
    yield
    for _, ddl in defs:
        # a partitioned table's index reads back as "ON ONLY parent", which would build it for
        # no partition at all: rebuild it for the partitions too
        conn.execute(sa.text(ddl.replace(" ON ONLY ", " ON ", 1)))


def _copy_tracks(conn: sa.Connection, raw: Any, tracks: dict[str, np.ndarray], epsg: int) -> int:
    """COPY the GPS fixes through the same filter as uploads: refused fixes go to `track_rejected`.

    Monthly partitions are created first. Returns the number of fixes taken as truth.
    """
    t = tracks["t"].astype("int64")
    conn.execute(
        sa.text("SELECT ensure_track_partitions(to_timestamp(:a), to_timestamp(:b))"),
        {"a": int(t.min()), "b": int(t.max()) + 1},
    )
    fixes = Fixes(
        worker_id=tracks["worker_id"],
        t=tracks["t"].astype(float),
        lon=tracks["lon"],
        lat=tracks["lat"],
        accuracy_m=tracks["acc"].astype(float),
        speed_mps=tracks["speed"].astype(float),
    )
    x, y = transformer(4326, epsg).transform(fixes.lon, fixes.lat)
    reasons = classify(fixes, np.asarray(x), np.asarray(y), Limits())
    stamps = np.datetime_as_string(t.astype("datetime64[s]"), unit="s")
    geoms = shapely.to_wkb(
        shapely.set_srid(shapely.points(tracks["lon"], tracks["lat"]), 4326), hex=True, include_srid=True
    )
    columns = ["worker_id", "recorded_at", "geom", "speed_mps", "accuracy_m"]

    def lines(which: np.ndarray, reason: str = "") -> Iterator[str]:
        # numbers, timestamps and hex only: nothing to escape, so lines are formatted directly
        tail = f"\t{reason}\n" if reason else "\n"
        for w, s, g, sp, ac in zip(
            tracks["worker_id"][which].tolist(),
            stamps[which].tolist(),
            geoms[which].tolist(),
            tracks["speed"][which].tolist(),
            tracks["acc"][which].tolist(),
            strict=True,
        ):
            yield f"{w}\t{s}+00\t{g}\t{sp}\t{ac}{tail}"

    for code, name in REASON_NAMES.items():
        copy_lines(raw, "track_rejected", [*columns, "reason"], lines(reasons == code, name))
    return copy_lines(raw, "track_point", columns, lines(reasons == KEPT), chunk=200_000)


def _create_demo_accounts(conn: sa.Connection) -> None:
    """One account per role, jurisdiction taken from the first unit of the right level."""
    from gis_core.platform.auth import hash_password

    pick = {
        "district": "SELECT code FROM district ORDER BY code LIMIT 1",
        "street": "SELECT code FROM street WHERE kind = 'street' ORDER BY code LIMIT 1",
        "community": "SELECT code FROM community ORDER BY code LIMIT 1",
        "grid": "SELECT g.code FROM grid g JOIN worker_grid wg ON wg.grid_id = g.id WHERE wg.worker_id = 1",
    }
    pw = hash_password(DEMO_PASSWORD)
    for username, display, role, level in DEMO_ACCOUNTS:
        code = conn.execute(sa.text(pick[level])).scalar() if level else None
        uid = conn.execute(
            sa.text(
                "INSERT INTO app_user (username, display_name, password_hash, role, "
                "jurisdiction_code, department_code) VALUES (:u, :d, :p, :r, :j, :dep) RETURNING id"
            ),
            {
                "u": username,
                "d": display,
                "p": pw,
                "r": role,
                "j": code,
                "dep": "urban_mgmt" if role == "department_handler" else None,
            },
        ).scalar()
        if role == "grid_worker":
            conn.execute(sa.text("UPDATE worker SET user_id = :u WHERE id = 1"), {"u": uid})

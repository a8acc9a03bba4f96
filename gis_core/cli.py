"""The `onegrid` command: embedded database, migrations, demo data, checks, imports, server."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gis_core.platform.settings import get_settings


def _cluster():  # type: ignore[no-untyped-def]
    from gis_core.platform.embedded_db import EmbeddedCluster

    return EmbeddedCluster(get_settings())


def _ensure_database() -> None:
    """Start the embedded cluster unless DATABASE_URL points elsewhere."""
    if get_settings().embedded:
        _cluster().start()


def cmd_db(args: argparse.Namespace) -> int:
    """`onegrid db start|stop|status|url|migrate|backup FILE|restore FILE|replica …`."""
    settings = get_settings()
    if args.action == "migrate":
        from gis_core.platform.db import migrate

        _ensure_database()
        migrate()
        print("schema is at head")
        return 0
    if args.action in ("backup", "restore"):
        from gis_core.platform import backup
        from gis_core.platform.db import database_url

        if not args.file:
            print(f"usage: onegrid db {args.action} FILE", file=sys.stderr)
            return 2
        _ensure_database()
        path = Path(args.file)
        try:
            if args.action == "backup":
                backup.backup(database_url(), path, settings)
                print(f"database dumped to {path} ({path.stat().st_size:,} bytes)")
            else:
                backup.restore(database_url(), path, settings)
                print(f"database restored from {path}")
        except backup.BackupError as exc:
            print(f"onegrid db {args.action}: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.action == "url":
        from gis_core.platform.db import database_url

        print(database_url())
        return 0
    if not settings.embedded:  # nothing to start or stop: `make demo` goes on with that database
        print("DATABASE_URL is set: the embedded cluster is not used", file=sys.stderr)
        return 0
    cluster = _cluster()
    if args.action == "start":
        cluster.start()
        print(f"embedded PostGIS running on 127.0.0.1:{cluster.port} ({cluster.data_dir})")
    elif args.action == "stop":
        cluster.stop()
        print("embedded PostGIS stopped")
    elif args.action == "status":
        status = cluster.status()
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    elif args.action == "replica":
        from gis_core.platform.replicas import command

        return command(cluster, args.file or "list", args.name)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """`onegrid check topology`: gaps, overlaps, children outside their parent, unnoded edges, slivers."""
    from gis_core.ingest.topology import check_topology
    from gis_core.platform.db import make_engine

    _ensure_database()
    engine = make_engine()
    with engine.connect() as conn:
        defects = check_topology(conn)  # thresholds and metric CRS from the settings
    engine.dispose()
    if args.json:
        print(json.dumps([d.as_dict() for d in defects], ensure_ascii=False, indent=2))
    else:
        for d in defects:
            print(d.describe())
        print(f"{len(defects)} topology defect(s)")
    return 1 if defects else 0


def demo_end(text: str, now: datetime | None = None) -> datetime:
    """When the demo's data ends: `today` (the district's midnight that began today) or an ISO date."""
    from gis_core.platform.clock import midnight, zone

    if text == "today":
        return midnight(now or datetime.now(UTC)).astimezone(UTC)
    day = datetime.fromisoformat(text)
    return (day if day.tzinfo else day.replace(tzinfo=zone())).astimezone(UTC)


def cmd_demo(args: argparse.Namespace) -> int:
    """`onegrid demo load`: generate and bulk-load the demo district."""
    from gis_core.ingest.demo_load import demo_loaded, load_demo
    from gis_core.platform.db import make_engine, migrate

    _ensure_database()
    migrate()
    engine = make_engine()
    if args.action == "live":
        from data.demo_live import command

        return command(engine, args)
    try:
        if args.if_missing and demo_loaded(engine):
            print("demo district already loaded")
            return 0
        end = demo_end(args.end)
        load_demo(engine, args.scale, args.seed, print, end, districts=args.districts)
    finally:
        engine.dispose()
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """`onegrid import FILE --as KIND`: GeoJSON / GeoPackage / Shapefile, or a register (.xlsx, .csv)."""
    from gis_core.ingest.importers import ImportRejected, import_file
    from gis_core.ingest.registers import REGISTERS, RegisterRejected, import_register
    from gis_core.platform.db import make_engine, migrate

    _ensure_database()
    migrate()
    engine = make_engine()
    if args.kind in REGISTERS or args.kind == "catalogue":
        from gis_core.ingest.catalogue_import import import_catalogue

        try:
            if args.kind == "catalogue":
                done = import_catalogue(engine, Path(args.file))
            else:
                done = import_register(engine, Path(args.file), args.kind)
        except RegisterRejected as exc:
            print(json.dumps(exc.report.as_dict(), ensure_ascii=False, indent=2))
            return 1
        finally:
            engine.dispose()
        print(json.dumps(done.as_dict(), ensure_ascii=False, indent=2))
        return 0
    try:
        report = import_file(
            engine,
            Path(args.file),
            kind=args.kind,
            invalid=args.invalid,
            layer=args.layer,
            source_crs=args.crs,
            clean_coverage_m=args.clean_coverage,
        )
    except ImportRejected as exc:
        print(json.dumps(exc.report.as_dict(), ensure_ascii=False, indent=2))
        return 1
    finally:
        engine.dispose()
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    """`onegrid user add|list|disable|enable|reset-password|set-role`: accounts, each change logged."""
    from gis_core.platform.account_commands import run
    from gis_core.platform.db import migrate

    _ensure_database()
    migrate()
    return run(args)


def cmd_webhooks(args: argparse.Namespace) -> int:
    """`onegrid webhooks list|dead|replay|deliver`: the outbox of outbound webhooks."""
    from gis_core.channels.commands import run

    return run(args)


def cmd_edge(args: argparse.Namespace) -> int:
    """`onegrid edge config|start|stop`: the tile edge cache (nginx) in front of the API."""
    from gis_core.publishing.edge import command

    return command(args, get_settings().var_dir / "edge")


def cmd_boundary(args: argparse.Namespace) -> int:
    """`onegrid boundary split|merge|redraw|move EDIT.json [--preview]`; `onegrid boundary history CODE`."""
    import getpass

    from gis_core.ingest import boundaries, boundary_ops
    from gis_core.platform.db import make_engine, migrate
    from gis_core.platform.errors import OneGridError

    _ensure_database()
    migrate()
    engine = make_engine()
    try:
        if args.action == "history":
            with engine.connect() as conn:
                out: Any = boundaries.history(conn, args.target)
        else:
            edit = json.loads(Path(args.target).read_text(encoding="utf-8"))
            actor = f"cli:{getpass.getuser()}"
            out = boundary_ops.edit(engine, args.action, edit, actor, args.preview).as_dict()
    except OneGridError as exc:
        refused = {"refused": exc.detail, "where": exc.where, **exc.extra}
        print(json.dumps(refused, ensure_ascii=False, indent=2, default=str))
        return 1
    finally:
        engine.dispose()
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_pii(args: argparse.Namespace) -> int:
    """`onegrid pii new-key|rotate`: keys of the sealed personal data, and re-sealing under the newest."""
    from gis_core.platform.sealing import new_key, sealer

    if args.action == "new-key":
        print(new_key())
        return 0
    from gis_core.platform.db import make_engine, migrate
    from gis_core.platform.sealed_columns import rotate

    _ensure_database()
    migrate()
    engine = make_engine()
    try:
        with engine.begin() as conn:  # all or nothing: a failed rotation leaves the old seals
            done = rotate(conn, sealer())
    finally:
        engine.dispose()
    print("re-sealed under the newest key: " + ", ".join(f"{t} {n:,d} rows" for t, n in done.items()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """`onegrid serve`: the HTTP API with uvicorn."""
    import uvicorn

    _ensure_database()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        # live walls (SSE) never finish by themselves: a restart closes them after 5 s and
        # they reconnect and resume from their last event id
        timeout_graceful_shutdown=5,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `onegrid` command."""
    from gis_core.ingest.importers import IMPORT_KINDS
    from gis_core.ingest.registers import REGISTERS

    p = argparse.ArgumentParser(prog="onegrid", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="embedded PostGIS cluster and migrations")
    db.add_argument("action", choices="start stop status url migrate backup restore replica".split())
    db.add_argument("file", nargs="?", help="dump file (backup, restore); replica: add|list|start|stop|…")
    db.add_argument("name", nargs="?", help="replica: which (replica-1, or 1)")
    db.set_defaults(func=cmd_db)

    check = sub.add_parser("check", help="data checks")
    check.add_argument("what", choices=["topology"])
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(func=cmd_check)

    bnd = sub.add_parser("boundary", help="edit the grids' partition (or show an outline's history)")
    bnd.add_argument("action", choices=["split", "merge", "redraw", "move", "history"])
    bnd.add_argument("target", help="the edit as JSON (a file), or the code whose history to show")
    bnd.add_argument("--preview", action="store_true", help="what the edit would change, then roll it back")
    bnd.set_defaults(func=cmd_boundary)

    demo = sub.add_parser("demo", help="demo district")
    demo.add_argument("action", choices=["load", "live"], help="load the district; keep it moving (live)")
    demo.add_argument("--scale", type=float, default=1.0, help="1.0 = the full district")
    demo.add_argument("--seed", type=int, default=20261122)
    demo.add_argument("--if-missing", action="store_true", help="do nothing when already loaded")
    demo.add_argument(
        "--districts", type=int, default=1, help="load: a city of N districts side by side (1-6)"
    )
    demo.add_argument(
        "--end", default="today", help="when its incidents and tracks end: today (default) or an ISO date"
    )
    demo.add_argument("--url", default="http://127.0.0.1:8000", help="live: the server to drive")
    demo.add_argument("--speed", type=float, default=1.0, help="live: the district's rhythm, N times faster")
    demo.add_argument("--live-scale", type=float, default=1.0, help="live: reporters, N times as many")
    demo.add_argument(
        "--seconds", type=float, default=None, help="live: stop after this long (default: never)"
    )
    demo.set_defaults(func=cmd_demo)

    imp = sub.add_parser(
        "import", help="import GeoJSON / GeoPackage / Shapefile, or a register (.xlsx, .csv)"
    )
    imp.add_argument("file")
    imp.add_argument(
        "--as",
        dest="kind",
        required=True,
        choices=sorted([*IMPORT_KINDS, *REGISTERS, "catalogue", "address"]),
    )
    imp.add_argument("--layer", default=None, help="layer name inside a GeoPackage")
    imp.add_argument(
        "--crs", default=None, help="source CRS when the file has none or lies (EPSG:xxxx, GCJ-02, BD-09)"
    )
    imp.add_argument(
        "--invalid",
        choices=["repair", "reject"],
        default="repair",
        help="repair invalid geometry (reported) or reject the file",
    )
    imp.add_argument(
        "--clean-coverage",
        type=float,
        default=None,
        metavar="METRES",
        help="snap and node the file's polygons as one coverage within this many metres (changes reported)",
    )
    imp.set_defaults(func=cmd_import)

    user = sub.add_parser("user", help="accounts (each change in the admin log)")
    user.add_argument("action", choices=["add", "list", "disable", "enable", "reset-password", "set-role"])
    user.add_argument("username", nargs="?")
    user.add_argument("--name", help="display name (add)")
    user.add_argument("--role", help="admin, commander, street_officer, community_officer, grid_worker, …")
    user.add_argument("--jurisdiction", help="a street's or community's code (officers)")
    user.add_argument("--department", help="a district department's code (handlers)")
    user.add_argument("--worker", help="the worker record's code (grid workers)")
    user.set_defaults(func=cmd_user)

    pii = sub.add_parser("pii", help="keys of residents' sealed ID numbers and phones")
    pii.add_argument("action", choices=["new-key", "rotate"], help="print a fresh key; re-seal every row")
    pii.set_defaults(func=cmd_pii)

    hooks = sub.add_parser("webhooks", help="outbound webhooks: subscriptions, dead letters, replay, deliver")
    hooks.add_argument("action", choices=["list", "dead", "replay", "deliver"])
    hooks.add_argument("ids", nargs="*", help="replay: the dead deliveries' ids")
    hooks.add_argument("--all", action="store_true", help="replay: every dead delivery")
    hooks.add_argument("--once", action="store_true", help="deliver: stop when nothing is pending")
    hooks.set_defaults(func=cmd_webhooks)

    edge = sub.add_parser("edge", help="the tile edge cache (nginx from Debian) in front of the API")
    edge.add_argument("action", choices=["config", "start", "stop"])
    edge.add_argument("--listen", type=int, default=8080, help="the edge's port")
    edge.add_argument("--upstream", default="127.0.0.1:8000", help="API hosts, comma-separated host:port")
    edge.add_argument("--tls-cert", default=None, help="TLS terminates at the edge: certificate (PEM)")
    edge.add_argument("--tls-key", default=None, help="and its key")
    edge.set_defaults(func=cmd_edge)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `onegrid` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""GeoDataFrames of OneGrid for planners (geopandas), from the database or from a running server.

    from gis_core.frames import OneGrid
    og = OneGrid.database(username="planner")            # in-process, through gis_core
    og = OneGrid.server("http://127.0.0.1:8000", "planner", password)   # over the HTTP API
    incidents = og.incidents(since="2026-01-01", category="01")
    grids = og.grids(since="2026-01-01")                 # grid polygons with per-grid metrics

Both ways read as the account's role: the same rows, the same masked fields, because the
database way calls the very functions the API's handlers call. Frames are in EPSG:4326;
`.to_crs(og.metric_epsg)` for metres.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from gis_core.auth import User
from gis_core.errors import NotFound
from gis_core.incidents.workflow import OPEN_STATES

PAGE = 10_000


def _frame(features: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Features as a GeoDataFrame indexed by feature id (`fid`)."""
    if not features:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326))
    frame = gpd.GeoDataFrame.from_features(features, crs=4326)
    frame.index = pd.Index([f.get("id") for f in features], name="fid")
    return frame


def _time(v: str | datetime | None) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(v)


class OneGrid:
    """A planner's handle on OneGrid; build it with `database()` or `server()`."""

    def __init__(self, pages: Any, metric_epsg: int) -> None:
        self._pages = pages
        self.metric_epsg = metric_epsg

    # ------------------------------------------------------------- construction
    @classmethod
    def database(cls, url: str | None = None, username: str = "planner") -> OneGrid:
        """Read the database directly (the embedded cluster, or `url`) as the account `username`."""
        from gis_core.db import database_url, make_engine
        from gis_core.settings import get_settings

        settings = get_settings()
        engine = make_engine(url or database_url(settings))
        return cls(
            _DatabasePages(engine, _user(engine, username), settings.projected_epsg), settings.projected_epsg
        )

    @classmethod
    def server(cls, base_url: str, username: str, password: str, metric_epsg: int = 4550) -> OneGrid:
        """Read through a running server's API, logged in as `username`."""
        import httpx

        client = httpx.Client(base_url=base_url.rstrip("/"), timeout=120)
        r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return cls(_ServerPages(client), metric_epsg)

    # ------------------------------------------------------------- frames
    def layer(self, name: str, **filters: str) -> gpd.GeoDataFrame:
        """Every feature of a published layer (cameras, cold_chain, service_centers, persons, …)."""
        return _frame(list(self._pages.layer(name, filters)))

    def incidents(
        self,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        category: str | None = None,
        state: str | None = None,
        area: str | None = None,
    ) -> gpd.GeoDataFrame:
        """Incidents the account may read, with category, state, times and their grid's code."""
        frame = _frame(
            list(
                self._pages.incidents(
                    {
                        "from": _time(since),
                        "to": _time(until),
                        "category": category,
                        "state": state,
                        "area": area,
                    }
                )
            )
        )
        for col in ("reported_at", "accepted_at", "dispatched_at", "resolved_at", "closed_at", "due_at"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        return frame

    def cameras(self) -> gpd.GeoDataFrame:
        """Cameras with bearing, field of view and online status."""
        return self.layer("cameras")

    def cold_chain(self) -> gpd.GeoDataFrame:
        """Cold-chain firms, stores and quarantine hotels with their risk level."""
        return self.layer("cold_chain")

    def service_centers(self) -> gpd.GeoDataFrame:
        """Party-and-people service centres with their service-circle minutes."""
        return self.layer("service_centers")

    def trajectory(self, worker_id: int, since: str | datetime, until: str | datetime) -> gpd.GeoDataFrame:
        """One worker's cleaned track: one row per run, with its statistics as columns."""
        feature = self._pages.trajectory(worker_id, _time(since), _time(until))
        return _frame([feature])

    def persons_per_grid(self) -> pd.DataFrame:
        """Residents per grid: total, floating, with special-care tags, and per four-colour risk class."""
        persons = self.layer("persons")
        grids = self.layer("grid")[["code", "geometry"]].rename(columns={"code": "grid_code"})
        if persons.empty:
            return pd.DataFrame(columns=["grid_code", "persons"])
        joined = gpd.sjoin(persons, grids, predicate="within", how="inner")
        joined["care"] = joined["care_tags"].map(lambda v: bool(v) and len(v) > 0)
        out = joined.groupby("grid_code").agg(
            persons=("residency", "size"),
            floating=("residency", lambda s: int((s == "floating").sum())),
            special_care=("care", "sum"),
        )
        risk = joined.pivot_table(
            index="grid_code", columns="risk_class", values="residency", aggfunc="count", fill_value=0
        )
        risk.columns = [f"risk_{c}" for c in risk.columns]
        return out.join(risk).reset_index()

    def grids(
        self, since: str | datetime | None = None, until: str | datetime | None = None
    ) -> gpd.GeoDataFrame:
        """Grids with metrics: incidents in the period (open, overdue, closed, satisfied), residents."""
        grids = self.layer("grid")
        inc = pd.DataFrame(self.incidents(since, until).drop(columns="geometry"))
        if inc.empty:
            metrics = pd.DataFrame(columns=["incidents", "open", "overdue", "closed", "satisfied"])
        else:
            inc["open"] = inc["state"].isin(OPEN_STATES)
            inc["closed"] = inc["state"] == "closed"
            inc["satisfied"] = inc["rating"] == "satisfied"
            metrics = inc.groupby("grid_code").agg(
                incidents=("state", "size"),
                open=("open", "sum"),
                overdue=("overdue", "sum"),
                closed=("closed", "sum"),
                satisfied=("satisfied", "sum"),
            )
        out = grids.merge(metrics, left_on="code", right_index=True, how="left")
        out = out.merge(self.persons_per_grid(), left_on="code", right_on="grid_code", how="left")
        numeric = [
            c
            for c in out.columns
            if c in metrics.columns or c.startswith(("persons", "floating", "special", "risk_"))
        ]
        out[numeric] = out[numeric].fillna(0).astype(int)
        return out.drop(columns=["grid_code"], errors="ignore")

    def hotspots(
        self,
        since: str | datetime,
        until: str | datetime,
        category: str | None = None,
        unit: str = "grid",
        hex_size: float = 250.0,
        bin: str | None = None,
    ) -> gpd.GeoDataFrame:
        """Incident counts per grid or hexagon with analytical Gi* (the wall's 热点追踪).

        With `bin` ("day", "week", "month"): the emerging pattern per unit instead, and the
        bins' boundaries in `frame.attrs["edges"]`.
        """
        params = {
            "from": _time(since),
            "to": _time(until),
            "category": category,
            "unit": unit,
            "hex_size": hex_size,
        }
        if bin:
            params["bin"] = bin
        body = self._pages.hotspots(params)
        frame = _frame(body["features"])
        # bin edges (with `bin`), the weights used and the total travel in `attrs`
        frame.attrs.update({k: v for k, v in body.items() if k not in ("type", "features")})
        return frame

    # ------------------------------------------------------------- database-only analyses
    def _db(self) -> _DatabasePages:
        if not isinstance(self._pages, _DatabasePages):
            raise TypeError("this analysis reads the database directly: use OneGrid.database()")
        return self._pages

    def service_circles(self, minutes: float | None = None) -> gpd.GeoDataFrame:
        """Walking isochrones of every service centre (its own standard minutes, or `minutes`)."""
        from gis_core import service_circles

        db = self._db()
        with db.engine.connect() as conn:
            circles = service_circles.service_circles(conn, self.metric_epsg, minutes)
            info = {c["id"]: c for c in service_circles.centers(conn)}
        rows = [info[c.center_id] | {"minutes": c.minutes} for c in circles]
        frame = gpd.GeoDataFrame(rows, geometry=[c.polygon for c in circles], crs=self.metric_epsg)
        return frame.to_crs(4326)

    def outside_circles(self, circles: gpd.GeoDataFrame) -> dict[str, Any]:
        """Households and special-care persons outside every circle of `circles` (see `service_circles`).

        Totals, households outside per grid (`by_grid`), and `uncovered`: a GeoDataFrame of the
        buildings outside (id, households, grid_code) at their point on surface.
        """
        from gis_core import service_circles

        polys = circles.to_crs(self.metric_epsg)
        with self._db().engine.connect() as conn:
            out = service_circles.outside(
                conn,
                [service_circles.Circle(int(r.id), float(r.minutes), r.geometry) for r in polys.itertuples()],
                self.metric_epsg,
            )
        rows = out["uncovered"]
        out["uncovered"] = gpd.GeoDataFrame(
            [{k: r[k] for k in ("id", "households", "grid_code")} for r in rows],
            geometry=gpd.points_from_xy([r["x"] for r in rows], [r["y"] for r in rows]),
            crs=self.metric_epsg,
        ).to_crs(4326)
        return out

    def isochrones(self, points: gpd.GeoSeries, minutes: float) -> gpd.GeoDataFrame:
        """Walking isochrones of `minutes` from each point (candidate service points, say), by its index."""
        from gis_core import service_circles

        ll = points.to_crs(4326)
        starts = [(k, float(p.x), float(p.y)) for k, p in enumerate(ll.geometry)]
        with self._db().engine.connect() as conn:
            circles = service_circles.isochrones(conn, starts, float(minutes), self.metric_epsg)
        frame = gpd.GeoDataFrame(
            {"minutes": [c.minutes for c in circles]},
            geometry=[c.polygon for c in circles],
            index=ll.index[[c.center_id for c in circles]],
            crs=self.metric_epsg,
        )
        return frame.to_crs(4326)

    def patrol_coverage(self, since: str | datetime, until: str | datetime) -> pd.DataFrame:
        """Per grid: road length, the length patrolled by anyone and by its own workers, and shares."""
        from gis_core import patrol

        with self._db().engine.connect() as conn:
            return pd.DataFrame(patrol.coverage(conn, _time(since), _time(until), self.metric_epsg))  # type: ignore[arg-type]

    def key_points(self, at: str | datetime) -> pd.DataFrame:
        """Key points with their last patrol before `at` and whether they are overdue."""
        from gis_core import patrol

        with self._db().engine.connect() as conn:
            return pd.DataFrame(patrol.key_points(conn, _time(at), self.metric_epsg))  # type: ignore[arg-type]

    def clusters(
        self,
        since: str | datetime,
        until: str | datetime,
        category: str | None,
        eps_m: float,
        min_points: int,
    ) -> gpd.GeoDataFrame:
        """DBSCAN clusters of incidents (convex hulls), largest first."""
        import shapely

        from gis_core import density
        from gis_core.incidents.queries import IncidentFilter

        db = self._db()
        f = IncidentFilter(category=category, since=_time(since), until=_time(until))
        with db.engine.connect() as conn:
            found = density.clusters(conn, db.user, f, eps_m, min_points, self.metric_epsg)
        geoms = [shapely.from_geojson(c.pop("hull")) for c in found]
        return gpd.GeoDataFrame(found, geometry=geoms, crs=4326)


def _user(engine: sa.Engine, username: str) -> User:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT id, username, display_name, role, jurisdiction_code, department_code "
                "FROM app_user WHERE username = :u AND active"
            ),
            {"u": username},
        ).first()
    if row is None:
        raise NotFound(f"no active account {username!r}", where="username")
    return User(*row)


class _DatabasePages:
    """Pages of features straight from `gis_core`, as the account reads them."""

    def __init__(self, engine: sa.Engine, user: User, epsg: int) -> None:
        self.engine, self.user, self.epsg = engine, user, epsg

    def _paged(
        self, size: int, fetch: Callable[[sa.Connection, int], tuple[list[dict[str, Any]], int]]
    ) -> Iterator[dict[str, Any]]:
        """Every feature of a paged query: `fetch(conn, offset)` gives a page and how many match in all."""
        offset = 0
        with self.engine.connect() as conn:
            while True:
                page, matched = fetch(conn, offset)
                yield from page
                offset += size
                if offset >= matched:
                    return

    def layer(self, name: str, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
        from gis_core.features import ItemQuery, items
        from gis_core.layers import get_layer

        layer = get_layer(name)
        return self._paged(
            PAGE,
            lambda conn, offset: items(
                conn, layer, self.user, ItemQuery(properties=filters, limit=PAGE, offset=offset)
            ),
        )

    def incidents(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from gis_core.incidents.queries import MAX_LIMIT, IncidentFilter, list_incidents

        def fetch(conn: sa.Connection, offset: int) -> tuple[list[dict[str, Any]], int]:
            f = IncidentFilter(
                state=params["state"].split(",") if params["state"] else None,
                category=params["category"],
                area=params["area"],
                since=params["from"],
                until=params["to"],
                limit=MAX_LIMIT,
                offset=offset,
            )
            return list_incidents(conn, self.user, f)

        return self._paged(MAX_LIMIT, fetch)

    def hotspots(self, params: dict[str, Any]) -> dict[str, Any]:
        from gis_core.incidents.hotspots import HotspotQuery, emerging_hotspots, hotspots

        q = HotspotQuery(params["from"], params["to"], params["category"], params["unit"], params["hex_size"])
        with self.engine.connect() as conn:
            if params.get("bin"):
                return emerging_hotspots(conn, self.user, q, params["bin"], self.epsg)
            return hotspots(conn, self.user, q, self.epsg)

    def trajectory(self, worker_id: int, since: datetime, until: datetime) -> dict[str, Any]:
        from gis_core import tracks

        with self.engine.connect() as conn:
            tracks.check_readable(conn, self.user, worker_id)
            return tracks.trajectory(conn, worker_id, since, until, self.epsg)


class _ServerPages:
    """Pages of features from a running server, following its `next` links."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _follow(self, url: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] | None = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None
        }
        next_url: str | None = url
        while next_url:
            r = self.client.get(next_url, params=query)
            r.raise_for_status()
            body = r.json()
            yield from body["features"]
            next_url = next((link["href"] for link in body.get("links", []) if link["rel"] == "next"), None)
            query = None  # the next link carries every parameter

    def layer(self, name: str, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
        return self._follow(f"/collections/{name}/items", {"limit": PAGE, **filters})

    def incidents(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from gis_core.incidents.queries import MAX_LIMIT

        return self._follow("/api/v1/incidents", {"limit": MAX_LIMIT, **params})

    def hotspots(self, params: dict[str, Any]) -> dict[str, Any]:
        path = "/api/v1/hotspots/emerging" if params.get("bin") else "/api/v1/hotspots"
        query = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None
        }
        r = self.client.get(path, params=query)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def trajectory(self, worker_id: int, since: datetime, until: datetime) -> dict[str, Any]:
        r = self.client.get(
            f"/api/v1/workers/{worker_id}/trajectory",
            params={"from": since.isoformat(), "to": until.isoformat()},
        )
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

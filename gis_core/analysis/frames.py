"""GeoDataFrames of OneGrid for planners (geopandas), from the database or from a running server.

    from gis_core.analysis.frames import OneGrid
    og = OneGrid.database(username="planner")            # in-process, through gis_core
    og = OneGrid.server("http://127.0.0.1:8000", "planner", password)   # over the HTTP API
    incidents = og.incidents(since="2026-01-01", category="01")
    grids = og.grids(since="2026-01-01")                 # grid polygons with per-grid metrics

Both ways read as the account's role: the same rows, the same masked fields, because the
database way calls the very functions the API's handlers call. Frames are in EPSG:4326;
`.to_crs(og.metric_epsg)` for metres.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from gis_core.analysis.pages import DatabasePages, ServerPages, account
from gis_core.incidents.workflow import OPEN_STATES


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
        from gis_core.platform.db import database_url, make_engine
        from gis_core.platform.settings import get_settings

        settings = get_settings()
        engine = make_engine(url or database_url(settings))
        return cls(
            DatabasePages(engine, account(engine, username), settings.projected_epsg), settings.projected_epsg
        )

    @classmethod
    def server(cls, base_url: str, username: str, password: str, metric_epsg: int = 4550) -> OneGrid:
        """Read through a running server's API, logged in as `username`."""
        import httpx

        client = httpx.Client(base_url=base_url.rstrip("/"), timeout=120)
        r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return cls(ServerPages(client), metric_epsg)

    def data_end(self) -> pd.Timestamp:
        """Where the data ends: a demo district's last day (its manifest), else now (live data)."""
        if isinstance(self._pages, DatabasePages):
            import sqlalchemy as sa

            with self._pages.engine.connect() as conn:
                end = conn.execute(
                    sa.text("SELECT manifest->>'end' FROM demo_manifest ORDER BY loaded_at DESC LIMIT 1")
                ).scalar()
            if end:
                return pd.Timestamp(end)
        from gis_core.platform.clock import local

        return pd.Timestamp(local(datetime.now(UTC))).floor("min")

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
    def _db(self) -> DatabasePages:
        if not isinstance(self._pages, DatabasePages):
            raise TypeError("this analysis reads the database directly: use OneGrid.database()")
        return self._pages

    def service_circles(self, minutes: float | None = None) -> gpd.GeoDataFrame:
        """Walking isochrones of every service centre (its own standard minutes, or `minutes`)."""
        from gis_core.geo import service_circles

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
        from gis_core.geo import service_circles

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
        from gis_core.geo import service_circles

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
        from gis_core.field import patrol

        with self._db().engine.connect() as conn:
            return pd.DataFrame(patrol.coverage(conn, _time(since), _time(until), self.metric_epsg))  # type: ignore[arg-type]

    def key_points(self, at: str | datetime) -> pd.DataFrame:
        """Key points with their last patrol before `at` and whether they are overdue."""
        from gis_core.field import patrol

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

        from gis_core.analysis import density
        from gis_core.incidents.queries import IncidentFilter

        db = self._db()
        f = IncidentFilter(category=category, since=_time(since), until=_time(until))
        with db.engine.connect() as conn:
            found = density.clusters(conn, db.user, f, eps_m, min_points, self.metric_epsg)
        geoms = [shapely.from_geojson(c.pop("hull")) for c in found]
        return gpd.GeoDataFrame(found, geometry=geoms, crs=4326)

"""What an operator watches: Prometheus metrics at `/metrics` (prometheus-client), and `/readyz`.

Metrics are per server process (each uvicorn worker answers for its own; Prometheus scrapes each
port, or the deployment runs one worker per port behind the balancer). Requests are counted and
timed by route template, never by raw path (one series per route, not per tile). Pools, the tile
cache and the live feed are read when scraped, from the objects themselves. `/metrics` needs no
token but answers only the addresses in `ONEGRID_METRICS_CLIENTS` (default: loopback), so it is
guarded rather than public: a district's Prometheus on the same host or a named address.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Latency buckets (seconds): a cached tile is ~1 ms, a report ~10 ms, an analysis seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The metrics of one server process, and the registry `/metrics` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "onegrid_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "onegrid_request_seconds", "Time to the last byte of the answer", ["method", "route"],
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.reports = Counter(
            "onegrid_reports_stored", "Reports stored (retries not counted)", registry=self.registry
        )
        self.escalations = Counter(
            "onegrid_escalations", "Overdue incidents escalated by this process's job", registry=self.registry
        )
        self.warnings = Counter(
            "onegrid_warnings_raised", "Warnings raised by the rules", ["rule"], registry=self.registry
        )
        self.live_lag = Histogram(
            "onegrid_live_lag_seconds", "From an event's insert to this process reading it for its walls",
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.state: Any = None  # the app's state, read when scraped
        self.registry.register(_Live(self))

    def job_done(self, job: str, result: Any) -> None:
        """What a scheduled job did this tick (None: another process's turn)."""
        if job == "escalation" and result:
            self.escalations.inc(len(result))
        elif job == "warning rules" and result:
            for rule, counts in result.items():
                self.warnings.labels(rule).inc(counts.get("raised", 0))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class _Live(Collector):
    """Figures read from the running objects at scrape time: pools, tile cache, live feed."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        state = self.metrics.state
        if state is None:
            return
        pools = GaugeMetricFamily(
            "onegrid_pool_connections_in_use", "Pooled connections checked out", labels=["pool"]
        )
        hub = getattr(state, "hub", None)
        engines = {"requests": "engine", "auth": "auth_engine", "tiles": "tile_engine"}
        for label, name in engines.items():
            engine = getattr(state, name, None)
            if engine is not None:
                pools.add_metric([label], engine.pool.checkedout())
        if hub is not None:
            pools.add_metric(["background"], hub.engine.pool.checkedout())
        yield pools
        cache = getattr(state, "tile_cache", None)
        if cache is not None:
            for what, value in (
                ("hits", cache.hits),
                ("misses", cache.misses),
                ("invalidated", cache.invalidated),
            ):
                yield CounterMetricFamily(f"onegrid_tile_cache_{what}", f"Tile cache {what}", value=value)
            yield GaugeMetricFamily("onegrid_tile_cache_entries", "Tiles kept", value=len(cache))
        if hub is not None:
            yield GaugeMetricFamily(
                "onegrid_live_clients", "Walls connected to the live feed", value=hub.clients
            )

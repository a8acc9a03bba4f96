"""`onegrid demo live`: the demo district kept moving through the public HTTP API, as its people's clients do.

In the demo accounts' own community, every grid worker walks the roads of their grid at 1.2 m/s
and uploads a fix every 30 s, checks in at the key points they pass, and handles what is
dispatched to their grid; residents and workers report at the demo year's daily rhythm (the
district's whole volume, placed in the community so that the wall sees it); the command centre
accepts and dispatches after human delays (one in ten late, so escalations come); the community,
the street and each district department handle theirs; reporters (or the centre) rate, now and
then unsatisfied, which reopens the case; the cold-chain gateway posts readings every half hour
with a rare excursion. Every call goes through HTTP with the actor's own token; a refusal is
counted and shown, never retried blindly.

`speed` runs the simulated rhythm that many times faster (a fix every 30/speed s, each step
30/speed s of walking, delays divided by speed). Timestamps stay real, so the server's deadlines,
escalations and warnings run on the real clock. `scale` multiplies the reporting population.
It refuses a database without a demo district (`demo_manifest`): it can never write into real data.
"""

from __future__ import annotations

import math
import random
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from gis_core.ingest.demo_load import DEMO_PASSWORD, demo_loaded
from gis_core.platform.clock import local

WALK_MPS = 1.2
FIX_S = 30.0
REPORTS_PER_YEAR = 25_700  # the demo year's volume (issue 1's generator)
#: The share of a day's reports in each hour (a working-day hump, quiet nights).
HOURLY = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.4, 1.8, 1.9, 1.8, 1.5,
          1.2, 1.5, 1.7, 1.7, 1.6, 1.4, 1.2, 1.0, 0.8, 0.6, 0.4, 0.3]  # fmt: skip
READINGS_EVERY_S = 1800.0
#: The desks look at their queues at most this often (real seconds), however fast the rhythm.
DESK_ROUND_S = 2.0
#: the simulator's own logins a minute: two thirds of the server's default per-address limit (30),
#: so people logging in from the same machine (the wall, beside `make demo`) are never refused
LOGINS_PER_MINUTE = 20
RATINGS = (("satisfied", 0.85), ("basic", 0.10), ("unsatisfied", 0.05))


class NotADemo(RuntimeError):
    """The database holds no demo district: the simulator writes nothing there."""


@dataclass
class Walker:
    """A grid worker on patrol: their account, worker record, and the path they walk round (metres)."""

    username: str
    worker_id: int
    grid: str
    path: list[tuple[float, float]]  # lon, lat of road vertices in their grid, in walking order
    at: float = 0.0  # metres along the path
    due: float = 0.0  # when (monotonic) the next fix is due
    fixes: list[dict[str, Any]] = field(default_factory=list)

    def step(self, metres: float) -> tuple[float, float]:
        """Walk `metres` further along the path (round and round); where they are now."""
        self.at += metres
        return _along(self.path, self.at)


@dataclass
class Cast:
    """Who the simulator plays, read once from the demo database."""

    community: str  # the demo accounts' community, where all of it happens
    walkers: list[Walker]
    handlers: list[str]  # accounts that handle dispatched incidents (officers, departments)
    area: list[tuple[float, float]]  # points where reports are placed (the community's road vertices)
    key_points: list[tuple[str, float, float]]
    sites: list[str]  # cold-chain sites


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (b[1] - a[1]) * 110_540)


def _along(path: list[tuple[float, float]], at: float) -> tuple[float, float]:
    total = sum(_metres(path[i], path[i + 1]) for i in range(len(path) - 1)) or 1.0
    at %= total
    for i in range(len(path) - 1):
        seg = _metres(path[i], path[i + 1])
        if at <= seg:
            f = at / seg if seg else 0.0
            (x0, y0), (x1, y1) = path[i], path[i + 1]
            return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        at -= seg
    return path[-1]


def cast(engine: sa.Engine) -> Cast:
    """The community's workers (each given an account `sim-<worker code>` once) and the handlers."""
    from gis_core.platform.auth import hash_password

    if not demo_loaded(engine):
        raise NotADemo("this database holds no demo district (demo_manifest): onegrid demo live refuses it")
    with engine.begin() as c:
        community = c.execute(
            sa.text("SELECT jurisdiction_code FROM app_user WHERE username = 'community'")
        ).scalar()
        pw = hash_password(DEMO_PASSWORD)
        workers = c.execute(
            sa.text(
                "SELECT w.id, w.code, w.user_id, u.username, g.code AS grid, g.id AS grid_id "
                "FROM worker w JOIN worker_grid wg ON wg.worker_id = w.id AND wg.is_primary "
                "JOIN grid g ON g.id = wg.grid_id LEFT JOIN app_user u ON u.id = w.user_id "
                "WHERE left(g.code, 12) = :c AND w.active ORDER BY w.id"
            ),
            {"c": community},
        ).all()
        walkers = []
        for w in workers:
            name = w.username
            if name is None:
                name = f"sim-{w.code}".lower()
                uid = c.execute(
                    sa.text(
                        "INSERT INTO app_user (username, display_name, password_hash, role, "
                        "jurisdiction_code) VALUES (:n, :d, :p, 'grid_worker', :g) "
                        "ON CONFLICT (username) DO UPDATE SET active = true RETURNING id"
                    ),
                    {"n": name, "d": f"网格员{w.code}", "p": pw, "g": w.grid},
                ).scalar()
                c.execute(sa.text("UPDATE worker SET user_id = :u WHERE id = :w"), {"u": uid, "w": w.id})
            path = [
                (float(x), float(y))
                for x, y in c.execute(
                    sa.text(
                        "SELECT ST_X(p.geom), ST_Y(p.geom) FROM road r, grid g, "
                        "LATERAL ST_DumpPoints(ST_Intersection(r.geom, g.geom)) p "
                        "WHERE g.id = :g AND r.geom && g.geom AND ST_Intersects(r.geom, g.geom) "
                        "ORDER BY r.id, p.path"
                    ),
                    {"g": w.grid_id},
                )
            ]
            if len(path) >= 2:
                walkers.append(Walker(name, w.id, w.grid, path))
        handlers = ["community", "street"]
        for (dept,) in c.execute(
            sa.text("SELECT code FROM department WHERE level = 'district' ORDER BY code")
        ):
            name = "handler" if dept == "urban_mgmt" else f"sim-{dept}".replace("_", "-")
            c.execute(
                sa.text(
                    "INSERT INTO app_user (username, display_name, password_hash, role, department_code) "
                    "VALUES (:n, :d, :p, 'department_handler', :dept) ON CONFLICT (username) DO NOTHING"
                ),
                {"n": name, "d": f"{dept}处置员", "p": pw, "dept": dept},
            )
            handlers.append(name)
        key_points = [
            (r.code, float(r.x), float(r.y))
            for r in c.execute(
                sa.text(
                    "SELECT k.code, ST_X(k.geom) x, ST_Y(k.geom) y FROM key_point k "
                    "JOIN grid g ON g.id = k.grid_id WHERE left(g.code, 12) = :c"
                ),
                {"c": community},
            )
        ]
        sites = list(c.execute(sa.text("SELECT code FROM cold_chain_site ORDER BY code")).scalars())
    area = [p for w in walkers for p in w.path]
    return Cast(str(community), walkers, handlers, area, key_points, sites)


class Client:
    """HTTP as each actor: their own token (fetched once, again after a 401), and what was refused."""

    def __init__(self, base_url: str, tally: Counter[str]):
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=30)
        self.tokens: dict[str, str] = {}
        self.retry_at: dict[str, float] = {}
        self.logins: deque[float] = deque()  # when this simulator last logged actors in
        self.tally = tally

    def _token(self, user: str) -> str | None:
        """The user's token; None while its login waits its turn or a refused one waits a minute."""
        if user in self.tokens:
            return self.tokens[user]
        now = time.monotonic()
        if now < self.retry_at.get(user, 0.0):
            return None
        while self.logins and self.logins[0] <= now - 60:
            self.logins.popleft()
        if len(self.logins) >= LOGINS_PER_MINUTE:  # this actor waits its turn, unrefused
            return None
        self.logins.append(now)
        r = self.http.post("/api/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
        if not r.is_success:  # logins are limited per address: thirty actors a minute
            self.tally[f"login refused {r.status_code}"] += 1
            self.retry_at[user] = time.monotonic() + 60
            return None
        self.tokens[user] = r.json()["access_token"]
        return self.tokens[user]

    def call(self, user: str, method: str, path: str, what: str, **kw: Any) -> httpx.Response | None:
        """One request as `user`, counted as sent (2xx) or refused (kind, status); None: never got there."""
        extra = kw.pop("headers", {})
        try:
            for attempt in (1, 2):  # a token that expired or was revoked: once more with a fresh one
                token = self._token(user)
                if token is None:
                    return None
                r = self.http.request(
                    method, path, headers={"Authorization": f"Bearer {token}", **extra}, **kw
                )
                if r.status_code != 401 or attempt == 2:
                    break
                self.tokens.pop(user, None)
        except httpx.HTTPError:
            self.tally[f"{what} unreachable"] += 1
            return None
        self.tally[what if r.is_success else f"{what} refused {r.status_code}"] += 1
        return r


class Simulator:
    """The district's rhythm, one tick at a time."""

    def __init__(
        self, base_url: str, engine: sa.Engine, speed: float = 1.0, scale: float = 1.0, seed: int = 1
    ):
        self.cast = cast(engine)
        self.speed, self.scale = speed, scale
        self.rng = random.Random(seed)
        self.tally: Counter[str] = Counter()
        self.client = Client(base_url, self.tally)
        self.catalogue = [
            i["code"] for m in self.client.http.get("/api/v1/categories").json() for i in m["items"]
        ]
        now = time.monotonic()
        self.next_report = now + 5 / speed  # the first soon, so the wall moves within a minute
        self.next_desk = now
        self.next_readings = now
        self.outbox: list[tuple[str, str, str, str, dict[str, Any]]] = []
        self.acked: dict[str, set[str]] = {"reports": set(), "fixes": set()}  # what the server said it stored
        self.waiting: dict[tuple[int, int], float] = {}  # (incident, version) → when its next step is due
        for k, w in enumerate(self.cast.walkers):
            w.at = self.rng.uniform(0, 5000)
            w.due = now + k * FIX_S / speed / max(1, len(self.cast.walkers))

    def tick(self) -> None:
        """Whatever is due now: fixes and check-ins, a report, the desks' rounds, readings."""
        now = time.monotonic()
        self._walk(now)
        self._flush()
        if now >= self.next_report:
            self._report()
            hour = local(datetime.now(UTC)).hour
            per_s = REPORTS_PER_YEAR * self.scale / 365 / 86_400 * HOURLY[hour] / (sum(HOURLY) / 24)
            self.next_report = now + self.rng.expovariate(per_s * self.speed)
        if now >= self.next_desk:
            self._desk(now)
            self.next_desk = now + max(10 / self.speed, DESK_ROUND_S)
        if now >= self.next_readings and self.cast.sites:
            self._readings()
            self.next_readings = now + READINGS_EVERY_S / self.speed

    def _walk(self, now: float) -> None:
        for w in self.cast.walkers:
            if now < w.due:
                continue
            w.due = now + FIX_S / self.speed
            lon, lat = w.step(WALK_MPS * FIX_S / self.speed)
            fix = {"worker_id": w.worker_id, "t": datetime.now(UTC).isoformat(), "lon": lon, "lat": lat,
                   "accuracy": round(self.rng.uniform(4, 12), 1), "speed": WALK_MPS}  # fmt: skip
            self.send(
                w.username, "/api/v1/tracks", "fixes", f"{w.worker_id}|{fix['t']}", json={"fixes": [fix]}
            )
            for code, x, y in self.cast.key_points:
                if _metres((lon, lat), (x, y)) < 40 and self.rng.random() < 0.5:
                    key = f"sim-{code}-{int(time.time() // 3600)}"  # once an hour at most, retry-safe
                    self.client.call(w.username, "POST", f"/api/v1/key-points/{code}/check-ins", "check-ins",
                                     headers={"Idempotency-Key": key})  # fmt: skip

    def _report(self) -> None:
        # the first by a resident (logged in at once), so that the wall's list moves at the start
        signed_in = [w.username for w in self.cast.walkers if w.username in self.client.tokens]
        by_worker = self.tally["reports"] > 0 and self.rng.random() < 0.6 and signed_in
        who = self.rng.choice(signed_in) if by_worker else "citizen"
        lon, lat = self.rng.choice(self.cast.area)
        form = {"category": self.rng.choice(self.catalogue), "description": "模拟上报（demo live）",
                "lon": str(lon + self.rng.uniform(-2e-4, 2e-4)),
                "lat": str(lat + self.rng.uniform(-2e-4, 2e-4))}  # fmt: skip
        key = str(uuid.uuid4())
        self.send(who, "/api/v1/incidents", "reports", key, data=form, headers={"Idempotency-Key": key})

    def send(self, user: str, path: str, what: str, key: str, **kw: Any) -> None:
        """POST as a phone does: kept and sent again (same key) until the server answers, once."""
        self.outbox.append((user, path, what, key, kw))

    def _flush(self) -> None:
        kept = []
        for user, path, what, key, kw in self.outbox:
            r = self.client.call(user, "POST", path, what, **dict(kw))
            if r is None or r.status_code >= 500 or r.status_code == 429:
                kept.append((user, path, what, key, kw))  # not there, or not now: later, the same
            elif r.is_success:
                self.acked[what].add(key)
        self.outbox = kept

    def _delay(self) -> float:
        """A person's delay before the next step, in real seconds: minutes, and one in ten hours late."""
        sim_s = self.rng.uniform(2, 6) * 3600 if self.rng.random() < 0.1 else self.rng.uniform(60, 900)
        return sim_s / self.speed

    def _act(self, user: str, inc: dict[str, Any], action: str, **extra: Any) -> None:
        body = {"action": action, "version": inc["properties"]["version"], **extra}
        key = f"sim-{inc['id']}-{inc['properties']['version']}-{action}"  # a retry takes it once
        self.client.call(
            user,
            "POST",
            f"/api/v1/incidents/{inc['id']}/actions",
            action,
            json=body,
            headers={"Idempotency-Key": key},
        )

    def _due(self, inc: dict[str, Any], now: float) -> bool:
        """Whether the person who takes the incident's next step has got round to it."""
        when = self.waiting.setdefault((inc["id"], inc["properties"]["version"]), now + self._delay())
        return now >= when

    def _desk(self, now: float) -> None:
        for state, action in (("reported", "accept"), ("accepted", "dispatch"), ("resolved", "rate")):
            queue = {"state": state, "area": self.cast.community, "limit": 50}
            r = self.client.call("commander", "GET", "/api/v1/incidents", "desk reads", params=queue)
            for inc in r.json()["features"] if r is not None and r.is_success else []:
                if self._due(inc, now):
                    if action == "rate":
                        rating = self.rng.choices([n for n, _ in RATINGS], [p for _, p in RATINGS])[0]
                        self._act("commander", inc, "rate", rating=rating)
                    else:
                        self._act("commander", inc, action)
        for user in [*self.cast.handlers, *{w.username for w in self.cast.walkers}]:
            r = self.client.call(
                user, "GET", "/api/v1/incidents", "inbox reads", params={"assigned": "true", "limit": 50}
            )
            for inc in r.json()["features"] if r is not None and r.is_success else []:
                state = inc["properties"]["state"]
                if state in ("dispatched", "in_progress") and self._due(inc, now):
                    self._act(
                        user, inc, "start" if state == "dispatched" else "resolve", note="已处置（模拟）"
                    )

    def _readings(self) -> None:
        stamp = datetime.now(UTC).isoformat()
        readings = [{"site": s, "t": stamp, "temperature_c": round(self.rng.gauss(-19, 1.2), 1)
                     + (12 if self.rng.random() < 0.01 else 0)} for s in self.cast.sites]  # fmt: skip
        self.client.call(
            "commander", "POST", "/api/v1/cold-chain/readings", "readings", json={"readings": readings}
        )

    def progress(self) -> str:
        """One line: what was sent, of each kind, and what was refused (kind and status)."""
        sent = sum(v for k, v in self.tally.items() if "refused" not in k and "unreachable" not in k)
        refused = {k: v for k, v in self.tally.items() if "refused" in k or "unreachable" in k}
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.tally.items()) if k in SHOWN)
        return f"sent {sent:,} ({kinds}); refused {refused or 0}"


SHOWN = ("fixes", "reports", "accept", "dispatch", "start", "resolve", "rate", "check-ins", "readings")


def run(
    base_url: str, engine: sa.Engine, speed: float = 1.0, scale: float = 1.0,
    seconds: float | None = None, say: Callable[[str], Any] = print,
    between: Callable[[Simulator, float], Any] = lambda _sim, _elapsed: None,
) -> Simulator:  # fmt: skip
    """Keep the district moving until `seconds` have passed (or forever); a progress line every 10 s.

    `between(sim, elapsed)` is called each tick (the soak breaks things there). At the end the
    phones' outboxes are given a minute to empty, as phones keep trying.
    """
    sim = Simulator(base_url, engine, speed, scale)
    walkers, handlers = len(sim.cast.walkers), len(sim.cast.handlers)
    say(f"demo live: {walkers} workers walking, {handlers} handlers, speed {speed}")
    start = last = time.monotonic()
    while seconds is None or time.monotonic() - start < seconds:
        sim.tick()
        between(sim, time.monotonic() - start)
        if time.monotonic() - last >= 10:
            say(sim.progress())
            last = time.monotonic()
        time.sleep(0.2)
    deadline = time.monotonic() + 60
    while sim.outbox and time.monotonic() < deadline:
        sim._flush()
        time.sleep(1)
    say(sim.progress())
    return sim


def command(engine: Any, args: Any) -> int:
    """`onegrid demo live`: wait for the server, then keep the demo district moving (Ctrl-C stops)."""
    import time

    import httpx

    from gis_core.ingest.demo_load import demo_loaded

    if not demo_loaded(engine):  # before waiting for any server: it writes nowhere but a demo
        print("refused: this database holds no demo district (demo_manifest)", file=sys.stderr)
        engine.dispose()
        return 1
    for _ in range(120):  # started beside `onegrid serve` by `make demo`: give it a minute
        try:
            if httpx.get(f"{args.url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    try:
        run(args.url, engine, speed=args.speed, scale=args.live_scale, seconds=args.seconds, say=print)
    except NotADemo as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        engine.dispose()
    return 0

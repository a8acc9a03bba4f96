"""A bounded loopback load of report submissions: many clients, retries, duplicate keys, races.

Each client files its reports, each under a fresh idempotency key; some requests are sent
twice in a row (a retry after a lost answer) and some twice at once (a double tap racing
itself). A client retries on connection errors and 5xx until the server acknowledges, within
a bounded number of attempts. The result says which keys were acknowledged, so the caller can
check the database holds exactly one incident per key.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    """What the load did and saw."""

    keys: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    requests: int = 0
    replays: int = 0
    created: int = 0
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0


def run_load(
    base: str,
    token: str,
    points: list[tuple[float, float]],
    photo: bytes,
    clients: int = 200,
    reports_per_client: int = 3,
    seed: int = 1,
    max_attempts: int = 8,
) -> LoadResult:
    """Drive the load, one thread and one HTTP connection per client, and return what happened.

    (Threads with the synchronous client: httpx's async client added ~35 ms per request
    here, which measured the client rather than the server.)
    """
    rng = random.Random(seed)
    seeds = [rng.random() for _ in range(clients)]
    out = LoadResult()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def send(http: httpx.Client, key: str, data: dict[str, str]) -> None:
        for attempt in range(max_attempts):
            t = time.perf_counter()
            try:
                r = http.post(
                    "/api/v1/incidents",
                    data=data,
                    headers={"Idempotency-Key": key},
                    files=[("photos", ("p.jpg", photo, "image/jpeg"))],
                )
            except httpx.TransportError:
                with lock:
                    out.requests += 1
                time.sleep(0.05 * 2**attempt)
                continue
            with lock:
                out.requests += 1
                out.latencies_ms.append((time.perf_counter() - t) * 1000)
                if r.status_code in (200, 201):
                    out.acknowledged.add(key)
                    out.replays += r.status_code == 200
                    out.created += r.status_code == 201
                    return
                if r.status_code < 500 and r.status_code != 429:
                    out.failures.append(f"{r.status_code} {r.text[:200]}")
                    return
            time.sleep(0.05 * 2**attempt)
        with lock:
            out.failures.append(f"gave up on {key}")

    def client(n: int) -> None:
        crng = random.Random(seeds[n])
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            start.wait()
            for _ in range(reports_per_client):
                key = str(uuid.uuid4())
                with lock:
                    out.keys.add(key)
                lon, lat = points[crng.randrange(len(points))]
                data = {
                    "category": crng.choice(["0101", "0102", "0302", "0903", "1001"]),
                    "lon": str(lon),
                    "lat": str(lat),
                    "description": f"load {n}",
                }
                roll = crng.random()
                if roll < 0.15:  # a double tap: the same report twice at once, on two connections
                    twin = threading.Thread(target=_twin, args=(base, token, key, data))
                    twin.start()
                    send(http, key, data)
                    twin.join()
                else:
                    send(http, key, data)
                    if roll < 0.45:  # the answer was lost: the phone sends it again
                        send(http, key, data)

    def _twin(base_: str, token_: str, key: str, data: dict[str, str]) -> None:
        with httpx.Client(base_url=base_, headers={"Authorization": f"Bearer {token_}"}, timeout=60) as http:
            send(http, key, data)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.seconds = time.perf_counter() - t0
    return out

"""Outbound webhooks: tell other systems (the hotline first) what happened to their cases.

Subscriptions name a URL, the timeline actions wanted and the incident sources wanted. Each
timeline row queues one delivery per matching subscription in the same transaction (the
outbox trigger of migration 0029), so what is committed is told and nothing else. A deliverer
(every server process runs one; `onegrid webhooks deliver` runs one alone) claims due
deliveries with SKIP LOCKED, only the oldest pending one per subscription and incident, so a
case's events arrive in order, and posts them signed:

    X-OneGrid-Signature: sha256=hex(HMAC-SHA256(secret, "<X-OneGrid-Timestamp>." + body))

A failure (no answer, not 2xx, an address refused) is retried after base·2^(n-1) seconds
(±20 %, capped) until the last attempt; then the delivery is dead (the dead-letter list) and
the case's later events go on. `replay` puts dead deliveries back in the queue.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from gis_core.incidents.workflow import ACTIONS, SOURCES
from gis_core.platform.errors import InvalidInput, NotFound
from gis_core.platform.sealing import sealer
from gis_core.platform.settings import Settings

log = logging.getLogger(__name__)
EVENTS = ("report", *ACTIONS)
#: cloud metadata services answer on these besides link-local 169.254.169.254
_METADATA_HOSTS = {"metadata.google.internal", "metadata"}


def check_url(url: str, where: str = "body.url") -> None:
    """A 400 problem unless `url` is http(s) to a host that is not link-local, multicast or unspecified.

    Private and loopback addresses are allowed: a district's hotline runs on the government
    network. What is refused is what only an attacker would name: cloud metadata endpoints.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("a webhook URL must be http:// or https:// with a host", where=where)
    if len(url) > 2000:
        raise InvalidInput("a webhook URL has at most 2000 characters", where=where)
    host = parts.hostname.lower()
    if host in _METADATA_HOSTS:
        raise InvalidInput(f"{host} is a metadata service, not a receiver", where=where)
    refused = _refused_address(host, parts.port or (443 if parts.scheme == "https" else 80))
    if refused:
        raise InvalidInput(f"{host} resolves to {refused}, a link-local or reserved address", where=where)


def _refused_address(host: str, port: int) -> str | None:
    """The first address `host` resolves to that no receiver may have, if any (unresolvable: none yet)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return str(ip)
    return None


@dataclass(frozen=True)
class Subscription:
    """A subscription as an admin sees it (the secret only when it was made)."""

    id: int
    name: str
    url: str
    events: list[str]
    sources: list[str]
    active: bool
    secret: str | None = None


def subscribe(
    conn: sa.Connection,
    name: str,
    url: str,
    events: list[str],
    sources: list[str],
    secret: str | None = None,
) -> Subscription:
    """A new subscription; its secret (given, or made here) is returned this once and stored sealed."""
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name: 1-100 characters", where="body.name")
    check_url(url)
    for field, given, known in (("events", events, EVENTS), ("sources", sources, SOURCES)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidInput(
                f"unknown {field}: {', '.join(unknown)}; known: {', '.join(known)}", where=f"body.{field}"
            )
    if secret is not None and not 16 <= len(secret) <= 200:
        raise InvalidInput("a secret has 16-200 characters", where="body.secret")
    secret = secret or secrets.token_urlsafe(32)
    row = conn.execute(
        sa.text(
            "INSERT INTO webhook_subscription (name, url, events, sources, secret_sealed) "
            "VALUES (:n, :u, :e, :s, :k) ON CONFLICT (name) DO NOTHING RETURNING id"
        ),
        {"n": name, "u": url, "e": list(events), "s": list(sources), "k": sealer().seal(secret)},
    ).first()
    if row is None:
        raise InvalidInput(f"a subscription is already called {name!r}", where="body.name")
    return Subscription(int(row.id), name, url, list(events), list(sources), True, secret)


def subscriptions(conn: sa.Connection) -> list[Subscription]:
    """Every subscription, secrets withheld."""
    rows = conn.execute(
        sa.text("SELECT id, name, url, events, sources, active FROM webhook_subscription ORDER BY id")
    )
    return [Subscription(r.id, r.name, r.url, list(r.events), list(r.sources), r.active) for r in rows]


def unsubscribe(conn: sa.Connection, sid: int) -> None:
    """Stop a subscription: nothing more is queued for it; what is queued is dropped with it."""
    if conn.execute(sa.text("DELETE FROM webhook_subscription WHERE id = :i"), {"i": sid}).rowcount == 0:
        raise NotFound(f"no webhook subscription {sid}", where="path.id")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-OneGrid-Signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# Claimed deliveries are leased (their next_at moved past the attempt's longest time) and the
# claim commits at once: a slow receiver holds neither a transaction nor the next claim, and a
# process that dies mid-post leaves a lease that runs out, so the delivery goes again (at least
# once; receivers drop repeats by X-OneGrid-Delivery). A leased delivery is still pending, so
# the same incident's later ones wait for it.
_CLAIM = sa.text(
    """
    UPDATE webhook_delivery d SET next_at = now() + make_interval(secs => :lease)
    FROM (SELECT p.id FROM webhook_delivery p
          WHERE p.delivered_at IS NULL AND p.dead_at IS NULL AND p.next_at <= now()
            AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
                            WHERE e.subscription_id = p.subscription_id AND e.incident_id = p.incident_id
                              AND e.id < p.id AND e.delivered_at IS NULL AND e.dead_at IS NULL)
          ORDER BY p.id
          LIMIT :n
          FOR UPDATE SKIP LOCKED) AS due,
         webhook_subscription s
    WHERE d.id = due.id AND s.id = d.subscription_id
    RETURNING d.id, d.event, d.payload, d.attempts, s.url, s.secret_sealed
    """
)
_DELIVERED = sa.text(
    "UPDATE webhook_delivery SET delivered_at = now(), attempts = attempts + 1, last_status = :s, "
    "last_error = NULL WHERE id = :i"
)
_FAILED = sa.text(
    "UPDATE webhook_delivery SET attempts = attempts + 1, last_status = :s, last_error = :e, "
    "next_at = now() + make_interval(secs => :wait), "
    "dead_at = CASE WHEN attempts + 1 >= :most THEN now() END WHERE id = :i"
)
#: posts in flight in this process, at most POSTS_AT_ONCE (a slow receiver takes one of them)
POSTS_AT_ONCE = 16
_pool = ThreadPoolExecutor(max_workers=POSTS_AT_ONCE, thread_name_prefix="webhook")
_in_flight = 0
_lock = threading.Lock()


def deliver_due(engine: sa.Engine, settings: Settings) -> int:
    """Claim what is due (one per subscription and incident) and post it in the background; how many.

    Each outcome is recorded in its own transaction as its post ends.
    """
    global _in_flight
    with _lock:
        room = POSTS_AT_ONCE - _in_flight
    if room <= 0:
        return 0
    with engine.begin() as conn:
        due = conn.execute(_CLAIM, {"n": room, "lease": settings.webhook_timeout_s + 30}).all()
    if not due:
        return 0
    with _lock:
        _in_flight += len(due)
    open_secret = sealer(settings).open
    for d in due:
        _pool.submit(_deliver, engine, settings, d, open_secret(d.secret_sealed) or "")
    return len(due)


def _deliver(engine: sa.Engine, settings: Settings, d: Any, secret: str) -> None:
    global _in_flight
    try:
        status, error = _post(d, secret, settings)
        with engine.begin() as conn:
            if error is None:
                conn.execute(_DELIVERED, {"s": status, "i": d.id})
            else:
                wait = min(settings.webhook_retry_base_s * 2**d.attempts, settings.webhook_retry_max_s)
                conn.execute(
                    _FAILED,
                    {
                        "s": status,
                        "e": error[:500],
                        "wait": wait * random.uniform(0.8, 1.2),  # noqa: S311 - jitter, not a secret
                        "most": settings.webhook_max_attempts,
                        "i": d.id,
                    },
                )
    except Exception:  # noqa: BLE001 - the lease runs out and the delivery goes again
        log.exception("webhook delivery %s: outcome not recorded", d.id)
    finally:
        with _lock:
            _in_flight -= 1


@functools.cache
def _client() -> httpx.Client:
    """One client for the process's posts: connections kept alive, its TLS context built once.

    A client per post spent ~20 ms of CPU building one each time.
    """
    limits = httpx.Limits(max_connections=POSTS_AT_ONCE, max_keepalive_connections=POSTS_AT_ONCE)
    return httpx.Client(limits=limits)


def _post(d: Any, secret: str, settings: Settings) -> tuple[int | None, str | None]:
    """(HTTP status, error or None) of one delivery attempt."""
    parts = urlsplit(d.url)
    refused = _refused_address(parts.hostname or "", parts.port or 80)
    if refused:
        return None, f"refused: {parts.hostname} resolves to {refused}"
    body = json.dumps({"delivery_id": d.id, **d.payload}, ensure_ascii=False, separators=(",", ":")).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "OneGrid-Webhooks/1",
        "X-OneGrid-Event": d.event,
        "X-OneGrid-Delivery": str(d.id),
        "X-OneGrid-Timestamp": str(ts),
        "X-OneGrid-Signature": sign(secret, ts, body),
    }
    try:
        r = _client().post(
            d.url, content=body, headers=headers, timeout=settings.webhook_timeout_s, follow_redirects=False
        )
    except httpx.HTTPError as e:
        return None, f"{type(e).__name__}: {e}"
    return r.status_code, None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"


def dead_letters(conn: sa.Connection, limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries that gave up, newest first."""
    rows = conn.execute(
        sa.text(
            "SELECT d.id, s.name AS subscription, i.code AS incident, d.event, d.attempts, d.last_status, "
            "d.last_error, d.dead_at FROM webhook_delivery d "
            "JOIN webhook_subscription s ON s.id = d.subscription_id "
            "JOIN incident i ON i.id = d.incident_id WHERE d.dead_at IS NOT NULL "
            "ORDER BY d.dead_at DESC, d.id LIMIT :l"
        ),
        {"l": limit},
    )
    return [dict(r._mapping) for r in rows]


def replay(conn: sa.Connection, ids: list[int] | None = None) -> int:
    """Queue dead deliveries again (`ids`, or all of them); how many."""
    return conn.execute(
        sa.text(
            "UPDATE webhook_delivery SET dead_at = NULL, attempts = 0, next_at = now(), last_error = NULL "
            "WHERE dead_at IS NOT NULL AND (CAST(:all AS boolean) OR id = ANY(:ids))"
        ),
        {"all": ids is None, "ids": ids or []},
    ).rowcount

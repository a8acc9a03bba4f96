"""Live-feed helpers: an SSE client on a thread of its own, and a report filed the way a phone does."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid

import httpx


def token_for(base, user):
    """A demo account's bearer token from the server at `base`."""
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": "onegrid-demo"})
    return r.json()["access_token"]


class Feed(threading.Thread):
    """An SSE client on its own thread: parsed events land in `events`."""

    def __init__(self, base, token, last_id=None):
        super().__init__(daemon=True)
        self.url = f"{base}/api/v1/events"
        self.headers = {"Authorization": f"Bearer {token}"} | (
            {"Last-Event-ID": str(last_id)} if last_id else {}
        )
        self.events: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self):
        try:
            self._read()
        except httpx.TransportError:  # the server went away at the end of the test
            pass

    def _read(self):
        with httpx.Client(timeout=None) as client, client.stream("GET", self.url, headers=self.headers) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            self.ready.set()
            frame: dict = {}
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if not line:
                    if "data" in frame:
                        self.events.put(frame)
                    frame = {}
                elif not line.startswith(":") and ":" in line:
                    key, _, value = line.partition(":")
                    frame[key] = value.strip()

    def wait_for(self, predicate, seconds=5.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                frame = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            if frame.get("event") == "incident.new" and predicate(json.loads(frame["data"])):
                return frame
        return None


def file_report(base, token, lon, lat):
    """File a report at (lon, lat) on the server at `base`; its id (201 asserted)."""
    r = httpx.post(
        f"{base}/api/v1/incidents",
        data={"category": "0101", "description": "实时推送", "lon": str(lon), "lat": str(lat)},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]

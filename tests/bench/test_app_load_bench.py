"""网格员 app on a phone's network: first load under Chromium's "Slow 3G", a repeat load offline.

Chromium's own preset (DevTools' Slow 3G: 2,000 ms added to every round trip, 400 kbit/s each
way) through the DevTools protocol, on a 412×915 phone, against the full district. Measured:
bytes transferred (the encoded sizes Chromium reports) until the network is idle (map and
tiles included), and the time until the app takes input: the login form for a new phone, the
worker's own screen for a phone already signed in. Then, with the service worker installed,
the app opened with no network at all.
"""

from __future__ import annotations

import time

import httpx

from gis_core.platform.settings import Settings
from tests.bench.conftest import record
from tests.browser import browser_contexts
from tests.live import live_server

SLOW_3G = {
    "offline": False,
    "latency": 2000,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}
PHONE = {
    "viewport": {"width": 412, "height": 915},
    "is_mobile": True,
    "has_touch": True,
    "geolocation": {"longitude": 124.37, "latitude": 40.13},
    "permissions": ["geolocation"],
}


def _load(ctx, path, ready, throttle=True):
    """Open `path` on a fresh page: (ms until `ready` holds, bytes transferred until idle, the page)."""
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    if throttle:
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    t0 = time.monotonic()
    page.goto(path, wait_until="commit")
    page.wait_for_function(ready, timeout=60_000, polling=50)
    interactive = page.evaluate("window.app.interactive")  # ms since the navigation started
    page.wait_for_load_state("networkidle", timeout=120_000)
    return {
        "interactive_ms": round(interactive),
        "wall_s": round(time.monotonic() - t0, 1),
        "bytes": int(sum(sizes.values())),
        "requests": len(sizes),
    }, page


def test_the_app_on_slow_3g_and_offline(bench_url):
    with live_server(Settings(database_url=bench_url)) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "gridworker", "password": "onegrid-demo"}
        ).json()["access_token"]
        with browser_contexts(2, base_url=base, **PHONE) as (fresh, signed_in):
            login_screen, _ = _load(fresh, "/app/", "window.app && window.app.interactive > 0")
            signed_in.add_init_script(f"localStorage.setItem('onegrid.token', {token!r})")
            first, page = _load(signed_in, "/app/", "window.app && window.app.ready === true")
            page.wait_for_function("window.app.mapReady === true", timeout=120_000)
            # the service worker takes the app in once the first load is done; then no network at all
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            page.wait_for_function(
                "navigator.serviceWorker.controller !== null", timeout=60_000
            )  # clients.claim()
            signed_in.set_offline(True)
            repeats = []
            for _ in range(5):
                t0 = time.monotonic()
                page.reload(wait_until="commit")
                page.wait_for_function("window.app && window.app.ready === true", timeout=30_000, polling=20)
                repeats.append(round(page.evaluate("window.app.interactive")))
                assert time.monotonic() - t0 < 30
    result = {
        "network": "Chromium Slow 3G (2,000 ms latency, 400 kbit/s)",
        "new_phone_login_screen": login_screen,
        "signed_in_first_load": first,
        "offline_repeat_interactive_ms": repeats,
    }
    record("app_phone_load", result)
    assert first["bytes"] <= 1_500_000, result
    assert max(login_screen["interactive_ms"], first["interactive_ms"]) <= 5000, result
    assert max(repeats) <= 1000, result

"""Every page carries a Content-Security-Policy without unsafe-inline, and loads with no violation in Chromium."""

from __future__ import annotations

import time

import pytest

from tests.browser import browser_contexts
from tests.live import live_server

PAGES = ("/report", "/me", "/desk", "/admin", "/console", "/wall", "/app/")
#: Collects every CSP violation the page reports, from before its first script runs.
WATCH = "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));"


@pytest.mark.parametrize("path", PAGES)
def test_each_page_has_its_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"
    if path == "/app/":  # its script and style are written into the page: allowed by their hashes alone
        assert csp.count("'sha256-") == 4


@pytest.fixture(scope="module")
def server(settings):
    """One server for the pages' runs (each in a browser context of its own)."""
    with live_server(settings) as base:
        yield base


@pytest.mark.parametrize(
    ("path", "user", "ready"),
    [
        ("/wall", "commander", "window.wall && window.wall.loaded === true && wall.map.areTilesLoaded()"),
        ("/console", "commander", "window.con && window.con.loaded === true"),
        ("/app/", "gridworker", "window.app && window.app.ready === true"),
        ("/desk", "handler", "window.desk && window.desk.loaded === true"),
        ("/admin", "admin", "window.adm && window.adm.loaded === true"),
        ("/report", "citizen", "document.querySelectorAll('#category option').length > 40"),
    ],
)
def test_signed_in_pages_run_with_no_csp_violation(server, path, user, ready):
    """Under the policy itself (no bypass): waits are polled through DevTools, which it does not govern."""
    errors: list[str] = []
    with browser_contexts(1, base_url=server, bypass_csp=False) as (ctx,):
        ctx.add_init_script(WATCH)
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(path)
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", "onegrid-demo")
        page.click("#login-form button")
        deadline = time.monotonic() + 30
        while not page.evaluate(f"Boolean({ready})"):
            assert time.monotonic() < deadline, f"{path} did not get ready: {errors}"
            time.sleep(0.2)
        time.sleep(1.5)  # the map's workers and tiles, the live feed
        assert page.evaluate("window.__csp") == []
    assert [e for e in errors if "Content Security Policy" in e] == []

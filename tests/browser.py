"""Headless Debian Chromium driven by Playwright (no browser download: the system one is used)."""

import contextlib
import os
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Without these, Chromium keeps calling home and the closed network refuses it, many times over.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


#: Every test context's defaults: Chinese and Beijing time, as the users' own devices are; the
#: pages' Content-Security-Policy bypassed (Playwright's string waits run through eval, which it
#: forbids): tests/test_page_security.py loads every page under it instead.
CONTEXT_DEFAULTS = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "bypass_csp": True}


def new_context(browser, **context_options):
    """A fresh context of `browser` with the tests' defaults (`context_options` win)."""
    return browser.new_context(**{**CONTEXT_DEFAULTS, **context_options})


@contextlib.contextmanager
def browser_contexts(n: int, **context_options):
    """`n` fresh contexts of one Chromium (several people at once, each with their own storage)."""
    assert os.path.exists(CHROMIUM), "Debian chromium is not installed (make setup installs it)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield [new_context(browser, **context_options) for _ in range(n)]
        finally:
            browser.close()


@contextlib.contextmanager
def browser_context(**context_options):
    """One fresh Chromium context (see browser_contexts)."""
    with browser_contexts(1, **context_options) as (ctx,):
        yield ctx


def sign_in(ctx, path: str, user: str, errors: list[str], ready: str, password: str = "onegrid-demo"):
    """A new page of `ctx` at `path`, signed in as `user` through its login form, once `ready` (JS) holds.

    Console errors and uncaught exceptions are collected in `errors`, each with the user's name.
    """
    page = ctx.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(f"{user}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"{user}: {e}"))
    page.goto(path)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("#login-form button")
    page.wait_for_function(ready)
    return page


AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core's violations of the page as it stands, of the given impacts: 'rule: target (why) …'."""
    # evaluated through DevTools, not added as a <script>: the pages' CSP refuses inline scripts
    page.evaluate(AXE.read_text() + "\n;window.axe = axe;")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): "
        + "; ".join(
            f"{n['target']} {(n['any'] or n['all'] or [{}])[0].get('message', '')}" for n in v["nodes"][:3]
        )
        for v in result["violations"]
        if v["impact"] in impacts
    ]

"""Headless Debian Chromium driven by Playwright (no browser download: the system one is used)."""

import contextlib
import os
import shutil
import tempfile
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


@contextlib.contextmanager
def browser_context(**context_options):
    assert os.path.exists(CHROMIUM), "Debian chromium is not installed (make setup installs it)"
    ARTIFACTS.mkdir(exist_ok=True)
    profile = tempfile.mkdtemp(prefix="onegrid-chromium-")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx = browser.new_context(**context_options)
        try:
            yield ctx
        finally:
            ctx.close()
            browser.close()
            shutil.rmtree(profile, ignore_errors=True)

"""`make notebooks`: JupyterLab on notebooks/, with a kernel that imports gis_core, on the configured database."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.live import free_port
from tests.test_notebooks import NAMES

ROOT = Path(__file__).resolve().parents[1]


def test_db_start_with_a_database_url_has_nothing_to_start_and_says_so(db_url):
    """`make demo` and `make notebooks` run `onegrid db start` first; with DATABASE_URL it must not stop them."""
    done = subprocess.run(
        [sys.executable, "-m", "gis_core.cli", "db", "start"],
        env={**os.environ, "ONEGRID_DATABASE_URL": db_url}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "DATABASE_URL" in done.stderr


def test_make_notebooks_serves_the_four_notebooks_with_a_kernel_that_imports_gis_core(db_url, tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "ONEGRID_DATABASE_URL": db_url, "JUPYTER_TOKEN": token}
    log = (tmp_path / "make.log").open("w")
    proc = subprocess.Popen(
        ["make", "notebooks", f"NOTEBOOK_PORT={port}"], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                listed = httpx.get(f"{base}/api/contents", params={"token": token}, timeout=5)
                if listed.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            started = proc.poll() is None and time.monotonic() < deadline
            assert started, (tmp_path / "make.log").read_text()[-3000:]
            time.sleep(1)
        names = sorted(c["name"] for c in listed.json()["content"] if c["type"] == "notebook")
        assert names == [f"{n}.ipynb" for n in NAMES]
        assert httpx.get(f"{base}/lab", params={"token": token}, timeout=10).status_code == 200
        assert httpx.get(f"{base}/api/contents", timeout=5).status_code == 403  # the token is required
        spec = httpx.get(f"{base}/api/kernelspecs", params={"token": token}, timeout=5).json()
        python = spec["kernelspecs"][spec["default"]]["spec"]["argv"][0]
        probe = "import gis_core, json, os; print(json.dumps(os.environ.get('ONEGRID_DATABASE_URL')))"
        ran = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, check=True)
        assert json.loads(ran.stdout) == db_url  # the kernel's python imports gis_core, on this database
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)

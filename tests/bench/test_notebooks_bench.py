"""The planners' four notebooks on the full district: each end to end, its kernel's peak memory,
and every `OneGrid` frame method it calls, timed inside the kernel with the notebook's own arguments.

Budgets (issue 28): each notebook ≤ 60 s with peak memory < 4 GB; `patrol_coverage` for a week ≤ 10 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.bench.conftest import record
from tests.test_notebooks import NAMES, NOTEBOOKS

#: Put first in a copy of the notebook: every public frame method records how long each call took.
TIMED = """
import functools as _ft, json as _json, time as _time
from gis_core.analysis import frames as _frames
_timings = {}
def _timed(fn, name):
    @_ft.wraps(fn)
    def inner(*a, **k):
        t = _time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            _timings.setdefault(name, []).append(round(_time.perf_counter() - t, 3))
    return inner
for _name, _fn in list(vars(_frames.OneGrid).items()):
    if callable(_fn) and not _name.startswith("_"):
        setattr(_frames.OneGrid, _name, _timed(_fn, _name))
"""
REPORT = "print('TIMINGS ' + _json.dumps(_timings))"


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise AssertionError("no VmHWM")


def run(name: str) -> dict[str, object]:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(TIMED))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        t = time.perf_counter()
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
        seconds = round(time.perf_counter() - t, 1)
        peak = _peak_rss_mb(pid)
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    timings = json.loads(out.split("TIMINGS ", 1)[1])
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    return {"seconds": seconds, "peak_rss_mb": peak, "frame_methods_s": timings}


@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_on_the_full_district(bench_url, name, monkeypatch):
    monkeypatch.setenv("ONEGRID_DATABASE_URL", bench_url)  # the kernel inherits the environment
    got = run(name)
    record(f"notebook_{name}", got)
    assert got["seconds"] <= 60 and got["peak_rss_mb"] < 4096
    if name == "03_patrol_coverage":
        assert max(got["frame_methods_s"]["patrol_coverage"]) <= 10

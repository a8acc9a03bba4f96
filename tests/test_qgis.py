"""QGIS 3.22 (Debian 12's python3-qgis, offscreen) reads OneGrid with an account's API key over HTTP Basic."""

import json
import subprocess
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image

from tests.browser import ARTIFACTS
from tests.live import live_server

QGIS_PYTHON = "/usr/bin/python3"  # Debian's, which python3-qgis installs into
CLIENT = Path(__file__).with_name("qgis_client.py")


def test_qgis_opens_every_collection_and_the_grid_tiles_and_draws_them(client, auth, settings, engine):
    made = client.post("/api/v1/auth/api-keys", json={"name": "QGIS 测试"}, headers=auth("planner"))
    key = made.json()["key"]
    readable = {c["id"] for c in client.get("/collections", headers=auth("planner")).json()["collections"]}
    png = ARTIFACTS / "qgis-planner-map.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    with live_server(settings) as base:
        run = subprocess.run(
            [QGIS_PYTHON, "-X", "faulthandler", str(CLIENT), base, "planner", key, str(png)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(seen["collections"]) == readable
    with engine.connect() as c:
        for cid, layer in seen["collections"].items():
            assert layer["valid"], cid
            if cid in (
                "grid",
                "district",
                "street",
                "community",
            ):  # whole layers the planner reads in full: QGIS read every feature, with its fields
                (n,) = c.execute(sa.text(f"SELECT count(*) FROM {cid}")).one()
                assert layer["features"] == n and "code" in layer["fields"], cid
        (code,) = c.execute(sa.text("SELECT code FROM grid ORDER BY code LIMIT 1")).one()
    assert seen["collections"]["grid"]["first"]["code"].isdigit()
    assert seen["tiles_valid"] and "网格 (tiles)" in seen["rendered"] and not seen["errors"], seen
    # the map shows the grid tiles: many pixels of their fill colour (245, 203, 167 over white)
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    fill = np.abs(pixels - np.array([246, 208, 175])).max(axis=1) <= 12
    assert fill.mean() > 0.05, f"grid fill covers {fill.mean():.1%} of the map"
    assert code  # the district has grids

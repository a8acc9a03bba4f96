"""Going live without the demo: the README's walkthrough on a small district of its own files.

An empty database; boundaries, buildings, the catalogue, workers and residents imported with the
`onegrid` commands the README lists; accounts made with `onegrid user add`; then the first report
filed, dispatched, handled and closed through the API by the accounts just made. The district is
a made-up one elsewhere in Liaoning (Dalian's coordinates), so nothing of the demo helps.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import uuid

import httpx
import sqlalchemy as sa
from shapely.geometry import box, mapping

from gis_core.platform.db import migrate
from gis_core.platform.settings import Settings
from tests.live import live_server
from tests.test_registers import id_number

X, Y = 121.60, 38.90  # the district's south-west corner
D = 0.02  # ~1.7 km east-west, 2.2 km north-south


def _geojson(path, features):
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": props, "geometry": mapping(geom)}
                    for props, geom in features
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


def _csv(path, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_a_district_goes_live_from_its_own_files(empty_database, tmp_path, settings):
    url = empty_database
    migrate(url)
    f = tmp_path
    west, east = box(X, Y, X + D / 2, Y + D), box(X + D / 2, Y, X + D, Y + D)
    files = {
        "district": _geojson(
            f / "district.geojson", [({"code": "210299000000", "name": "试点区"}, box(X, Y, X + D, Y + D))]
        ),
        "street": _geojson(
            f / "street.geojson",
            [
                (
                    {"code": "210299001000", "name": "海滨街道", "district_code": "210299000000"},
                    box(X, Y, X + D, Y + D),
                )
            ],
        ),
        "community": _geojson(
            f / "community.geojson",
            [
                (
                    {"code": "210299001001", "name": "渔港社区", "street_code": "210299001000"},
                    box(X, Y, X + D, Y + D),
                )
            ],
        ),
        "grid": _geojson(
            f / "grid.geojson",
            [
                ({"code": "210299001001001", "name": "渔港一网格", "community_code": "210299001001"}, west),
                ({"code": "210299001001002", "name": "渔港二网格", "community_code": "210299001001"}, east),
            ],
        ),
        "building": _geojson(
            f / "building.geojson",
            [
                (
                    {"code": "B-1", "address": "渔港路1号", "floors": 6},
                    box(X + 0.004, Y + 0.004, X + 0.0045, Y + 0.0045),
                ),
                (
                    {"code": "B-2", "address": "渔港路2号", "floors": 6},
                    box(X + 0.014, Y + 0.004, X + 0.0145, Y + 0.0045),
                ),
            ],
        ),
    }
    catalogue = f / "catalogue.json"
    catalogue.write_text(
        json.dumps(
            {
                "departments": [
                    {"code": "grid_self", "name": "网格员自处置", "level": "grid"},
                    {"code": "community_office", "name": "社区居委会", "level": "community"},
                    {"code": "street_office", "name": "街道办事处", "level": "street"},
                    {"code": "city_mgmt", "name": "区城市管理局", "level": "district"},
                ],
                "majors": [
                    {
                        "code": "01",
                        "name": "市容环境",
                        "items": [
                            {
                                "code": "0101",
                                "name": "暴露垃圾",
                                "handling_level": "grid",
                                "department": "grid_self",
                                "accept_hours": 1,
                                "dispatch_hours": 2,
                                "handle_hours": 24,
                            },
                            {
                                "code": "0102",
                                "name": "占道经营",
                                "handling_level": "district",
                                "department": "city_mgmt",
                                "accept_hours": 1,
                                "dispatch_hours": 2,
                                "handle_hours": 48,
                            },
                        ],
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    workers = _csv(
        f / "workers.csv",
        [
            ["编号", "姓名", "电话", "网格"],
            ["DL001", "刘网格", "13900001111", "210299001001001"],
            ["DL002", "陈网格", "13900002222", "210299001001002"],
        ],
    )
    residents = _csv(
        f / "residents.csv",
        [
            ["身份证号", "姓名", "电话", "楼栋", "户号"],
            [id_number("210299", "19700101", 11), "赵居民", "13900003333", "B-1", "H1"],
            [id_number("210299", "19820202", 22), "钱居民", "", "B-2", "H2"],
        ],
    )
    env = {"ONEGRID_DATABASE_URL": url, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def onegrid(*args):
        r = subprocess.run(
            [sys.executable, "-m", "gis_core.cli", *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    # the README's walkthrough, step by step
    for kind in ("district", "street", "community", "grid", "building"):
        onegrid("import", str(files[kind]), "--as", kind)
    onegrid("import", str(catalogue), "--as", "catalogue")
    onegrid("import", str(workers), "--as", "worker")
    onegrid("import", str(residents), "--as", "resident")
    onegrid("check", "topology")  # exit 0: no gap, overlap or child outside its parent
    passwords = {}
    for name, shown, role, place in (
        ("zhihui", "指挥中心", "commander", []),
        ("liu", "刘网格", "grid_worker", ["--worker", "DL001"]),
        ("zhao", "赵居民", "citizen", []),
    ):
        out = onegrid("user", "add", name, "--name", shown, "--role", role, *place)
        passwords[name] = re.search(r"one-time password.*: (\S+)$", out.strip()).group(1)

    with live_server(Settings(database_url=url)) as base, httpx.Client(base_url=base) as api:
        tokens = {}
        for name, once in passwords.items():
            mine = f"Yugang-{len(tokens)}-Mima-2026"  # the policy: not the username
            assert (
                api.post(
                    "/api/v1/auth/password", json={"username": name, "password": once, "new_password": mine}
                ).status_code
                == 204
            )
            tokens[name] = {
                "Authorization": f"Bearer {api.post('/api/v1/auth/token', data={'username': name, 'password': mine}).json()['access_token']}"
            }
        here = api.get(
            "/api/v1/lookup", params={"lon": X + 0.004, "lat": Y + 0.006}, headers=tokens["zhao"]
        ).json()
        assert (here["grid"]["code"], here["community"]["name"]) == ("210299001001001", "渔港社区")
        r = api.post(
            "/api/v1/incidents",
            data={"category": "0101", "lon": X + 0.004, "lat": Y + 0.006, "description": "楼下垃圾"},
            headers={**tokens["zhao"], "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
        i = r.json()["id"]

        def act(user, **body):
            etag = api.get(f"/api/v1/incidents/{i}", headers=tokens[user]).headers["ETag"]
            r = api.post(
                f"/api/v1/incidents/{i}/actions", json=body, headers={**tokens[user], "If-Match": etag}
            )
            assert r.status_code == 200, r.text
            return r.json()["properties"]

        act("zhihui", action="accept")
        assert act("zhihui", action="dispatch")["department_code"] == "grid_self"
        act("liu", action="start")
        act("liu", action="resolve", note="已清理")
        p = act("zhao", action="rate", rating="satisfied")
        assert (p["state"], p["grid_code"]) == ("closed", "210299001001001")
    engine = sa.create_engine(url)
    with engine.connect() as c:
        counts = c.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM grid), (SELECT count(*) FROM person), (SELECT count(*) FROM worker), "
                "(SELECT count(*) FROM app_user), (SELECT count(*) FROM demo_manifest)"
            )
        ).one()
    engine.dispose()
    assert tuple(counts) == (2, 2, 2, 3, 0)  # its own district, and nothing of the demo

"""Desktop GIS clients authenticate the way they can: HTTP Basic with a password or an API key.

QGIS 3.22 (Debian 12) offers Basic, PKI and Esri tokens; GDAL offers Basic. Basic is taken on
the OGC API, tiles and spatial queries, with the same lock-out as the login, and an API key is
revoked at once. GDAL itself reads OneGrid with a key as its password.
"""

import base64
import json
import subprocess

import pytest
import sqlalchemy as sa

from gis_core.ingest.demo_load import DEMO_PASSWORD
from tests.conftest import ACCOUNT_PASSWORD, assert_problem
from tests.live import live_server
from tests.mvt import tile_of


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def _key(client, auth, user="planner", name="QGIS 规划科"):
    r = client.post("/api/v1/auth/api-keys", json={"name": name}, headers=auth(user))
    assert r.status_code == 201, r.text
    return r.json()


def test_an_api_key_reads_what_its_account_reads_until_it_is_revoked(client, auth, engine):
    key = _key(client, auth)
    listed = client.get("/api/v1/auth/api-keys", headers=auth("planner")).json()
    assert [k["name"] for k in listed if k["id"] == key["id"]] == ["QGIS 规划科"]
    assert all("key" not in k and "token_hash" not in k for k in listed)  # the secret is shown once only

    with engine.connect() as c:
        grids = c.execute(sa.text("SELECT count(*) FROM grid")).scalar()
    items = client.get("/collections/grid/items?limit=1000", headers=basic("planner", key["key"]))
    assert items.status_code == 200 and items.json()["numberMatched"] == grids
    # what the planner may not read, the key may not either; another account's name with it is refused
    assert_problem(client.get("/collections/workers/items", headers=basic("planner", key["key"])), 403)
    assert_problem(client.get("/collections/grid/items", headers=basic("commander", key["key"])), 401)
    # Basic is for the GIS endpoints: the workflow API wants a bearer token
    assert_problem(client.get("/api/v1/incidents", headers=basic("planner", key["key"])), 401)

    assert_problem(client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=auth("commander")), 404)
    assert client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=auth("planner")).status_code == 204
    assert_problem(client.get("/collections/grid/items", headers=basic("planner", key["key"])), 401)
    (gone,) = [
        k for k in client.get("/api/v1/auth/api-keys", headers=auth("planner")).json() if k["id"] == key["id"]
    ]
    assert gone["revoked_at"] is not None


def test_a_password_over_basic_reads_tiles_and_spatial_queries_as_a_token_does(client, auth, spot):
    x, y = tile_of(spot[0], spot[1], 15)
    path = f"/tiles/grid/15/{x}/{y}.pbf"
    by_token = client.get(path, headers=auth("planner"))
    by_password = client.get(path, headers=basic("planner", DEMO_PASSWORD))
    assert by_password.status_code == 200 and by_password.content == by_token.content
    near = client.get(
        f"/api/v1/spatial/grid/nearest?lon={spot[0]}&lat={spot[1]}&n=1",
        headers=basic("planner", DEMO_PASSWORD),
    )
    assert near.status_code == 200 and near.json()["features"][0]["properties"]["code"] == spot[2]


def test_wrong_passwords_over_basic_lock_the_account_like_the_login(client, account, settings):
    for _ in range(settings.login_failures_max):
        body = assert_problem(client.get("/collections", headers=basic(account, "guess")), 401)
        assert body["where"] == "header.Authorization"
    locked = client.get("/collections", headers=basic(account, ACCOUNT_PASSWORD))
    assert_problem(locked, 429, "rate-limited")
    assert int(locked.headers["Retry-After"]) > 0


def test_malformed_basic_credentials_are_a_401_problem(client):
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        body = assert_problem(client.get("/collections", headers={"Authorization": header}), 401)
        assert body["where"] == "header.Authorization"


def test_gdal_reads_onegrid_with_an_api_key_as_its_basic_password(settings, client, auth, engine, tmp_path):
    key = _key(client, auth, name="GDAL")
    with engine.connect() as c:
        codes = set(c.execute(sa.text("SELECT code FROM grid")).scalars())
    out = tmp_path / "grid.geojson"
    with live_server(settings) as base:
        run = subprocess.run(
            [
                "ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/", "grid",
                "--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD", f"planner:{key['key']}",
            ],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert {f["properties"]["code"] for f in json.loads(out.read_text())["features"]} == codes


@pytest.mark.parametrize("how", ["api-key", "disable", "logout"])
def test_a_revocation_holds_in_this_process_at_once_without_waiting_for_its_notice(
    client, auth, fresh_worker, how
):
    """The NOTIFY tells the other processes; the one that revoked must not wait for it (a race under load)."""
    username, _ = fresh_worker()
    r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    listener = client.app.state.listener
    tokens = listener._handlers["onegrid_tokens"]
    listener._handlers["onegrid_tokens"] = lambda _payload: None  # the notice is slow to arrive
    try:
        if how == "api-key":
            made = client.post("/api/v1/auth/api-keys", json={"name": "QGIS"}, headers=bearer).json()
            headers = basic(username, made["key"])
            assert client.get("/collections/grid/items?limit=1", headers=headers).status_code == 200  # cached
            assert client.delete(f"/api/v1/auth/api-keys/{made['id']}", headers=bearer).status_code == 204
        else:
            headers = bearer
            assert client.get("/collections/grid/items?limit=1", headers=headers).status_code == 200  # cached
            if how == "logout":
                assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
            else:
                off = client.patch(
                    f"/api/v1/admin/users/{username}", json={"active": False}, headers=auth("admin")
                )
                assert off.status_code == 200, off.text
        assert_problem(client.get("/collections/grid/items?limit=1", headers=headers), 401)
    finally:
        listener._handlers["onegrid_tokens"] = tokens

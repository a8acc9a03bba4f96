"""Caching that follows the data.

A tile says whether it was cached, edits reach the next fetch, and a lost tile connection costs no
request.
"""

import pytest
import sqlalchemy as sa

from gis_core.publishing.layers import registry
from tests.mvt import decode, tile_of
from tests.test_tiles import source


def _cached_keys(client):
    return set(client.app.state.tile_cache._entries)


def test_a_tile_says_whether_this_process_had_it_cached(client, auth, engine):
    """X-Cache: how the benchmark knows its 'cached' pass is one (each worker has its own cache)."""
    (_, geom, _), *_ = source(engine, "camera", "id")
    z = 15
    x, y = tile_of(geom.x, geom.y, z)
    client.app.state.tile_cache.clear()
    first = client.get(f"/tiles/cameras/{z}/{x}/{y}.pbf", headers=auth())
    again = client.get(f"/tiles/cameras/{z}/{x}/{y}.pbf", headers=auth())
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert again.content == first.content
    never = client.get(f"/tiles/incidents_open/{z}/{x}/{y}.pbf", headers=auth())  # a layer not cached
    assert never.headers["x-cache"] == "pass"


def test_an_edit_is_in_the_next_fetch_and_unrelated_tiles_stay_cached(client, auth, engine):
    cache = client.app.state.tile_cache
    cams = source(engine, "camera", "id, online")
    (cid, geom, row), far = cams[0], max(cams[1:], key=lambda c: c[1].distance(cams[0][1]))
    near_tiles = [(z, *tile_of(geom.x, geom.y, z)) for z in (10, 13, 16, 18)]
    fz, fx, fy = 16, *tile_of(far[1].x, far[1].y, 16)
    assert (fx, fy) != tile_of(geom.x, geom.y, 16)
    for z, x, y in [*near_tiles, (fz, fx, fy)]:
        assert client.get(f"/tiles/cameras/{z}/{x}/{y}.pbf", headers=auth()).status_code == 200
    keys = {k for k in _cached_keys(client) if k[0] == ("cameras",)}
    assert {(k[1], k[2], k[3]) for k in keys} >= {*near_tiles, (fz, fx, fy)}
    hits = cache.hits
    client.get(f"/tiles/cameras/16/{near_tiles[2][1]}/{near_tiles[2][2]}.pbf", headers=auth())
    assert cache.hits == hits + 1  # served from the cache before the edit

    cache.changed.clear()
    try:
        with engine.begin() as c:
            c.execute(sa.text("UPDATE camera SET online = NOT online WHERE id = :id"), {"id": cid})
        assert cache.changed.wait(5), "no change notice arrived"
        left = {(k[1], k[2], k[3]) for k in _cached_keys(client) if k[0] == ("cameras",)}
        assert not set(near_tiles) & left  # every zoom's tile over the camera is gone
        assert (fz, fx, fy) in left  # the unrelated tile stays
        z, x, y = near_tiles[2]
        feats = {
            f["id"]: f
            for f in decode(client.get(f"/tiles/cameras/{z}/{x}/{y}.pbf", headers=auth()).content, z, x, y)[
                "cameras"
            ]["features"]
        }
        assert feats[cid]["properties"]["online"] is (not row.online)
        hits = cache.hits
        client.get(f"/tiles/cameras/{fz}/{fx}/{fy}.pbf", headers=auth())
        assert cache.hits == hits + 1
    finally:
        with engine.begin() as c:
            c.execute(sa.text("UPDATE camera SET online = :o WHERE id = :id"), {"o": row.online, "id": cid})


def test_a_boundary_edit_reaches_the_next_grid_tile(client, auth, engine, grid_point):
    z = 15
    x, y = tile_of(*grid_point, z)
    url = f"/tiles/grid/{z}/{x}/{y}.pbf"
    before = decode(client.get(url, headers=auth()).content, z, x, y)["grid"]["features"]
    gid = before[0]["id"]
    cache = client.app.state.tile_cache
    cache.changed.clear()
    with engine.begin() as c:
        old = c.execute(
            sa.text("UPDATE grid SET name = name || '（测试）' WHERE id = :id RETURNING name"), {"id": gid}
        ).scalar()
    try:
        assert cache.changed.wait(5)
        after = {
            f["id"]: f for f in decode(client.get(url, headers=auth()).content, z, x, y)["grid"]["features"]
        }
        assert after[gid]["properties"]["name"] == old
    finally:
        with engine.begin() as c:
            c.execute(
                sa.text("UPDATE grid SET name = replace(name, '（测试）', '') WHERE id = :id"), {"id": gid}
            )


def test_a_new_incident_is_in_the_next_tile(client, auth, spot):
    lon, lat, _ = spot
    z = 16
    x, y = tile_of(lon, lat, z)
    url = f"/tiles/incidents_open/{z}/{x}/{y}.pbf"

    def ids():
        r = client.get(url, headers=auth())
        return (
            set()
            if r.status_code == 204
            else {f["id"] for f in decode(r.content, z, x, y)["incidents_open"]["features"]}
        )

    before = ids()
    r = client.post(
        "/api/v1/incidents",
        headers={**auth("gridworker"), "Idempotency-Key": "tile-next-fetch"},
        data={"category": "0101", "description": "井盖缺失", "lon": str(lon), "lat": str(lat)},
    )
    assert r.status_code == 201, r.text
    assert ids() - before == {r.json()["id"]}


def test_tile_connections_carry_the_tile_statement_timeout(client, settings):
    with client.app.state.tile_engine.connect() as c:
        assert c.execute(sa.text("SHOW statement_timeout")).scalar() == f"{settings.tile_timeout_ms // 1000}s"
        assert c.connection.driver_connection.autocommit is True  # no BEGIN/COMMIT round trips


def test_a_tile_connection_lost_to_a_restart_costs_no_request(client, auth, engine, spot):
    """Issue 18 item 11: the tile pool skips the ping, so a connection that died idle failed a tile."""
    lon, lat, _ = spot
    x, y = tile_of(lon, lat, 16)
    url = f"/tiles/incidents_open/16/{x}/{y}.pbf"  # not server-cached: it always reaches the database
    assert client.get(url, headers=auth()).status_code in (200, 204)
    pool = client.app.state.tile_engine
    held = [pool.connect() for _ in range(pool.pool.checkedin())]
    pids = [c.execute(sa.text("SELECT pg_backend_pid()")).scalar() for c in held]
    for c in held:
        c.close()
    with engine.begin() as c:
        c.execute(sa.text("SELECT pg_terminate_backend(p) FROM unnest(CAST(:p AS int[])) p"), {"p": pids})
    first = client.get(url, headers=auth())
    assert first.status_code in (200, 204), first.text  # asked again on a fresh connection
    assert client.get(url, headers=auth()).content == first.content


CACHED = sorted({t for layer in registry().values() if layer.cache for t in layer.watched})


@pytest.mark.parametrize("table", CACHED)
def test_every_table_under_a_cached_layer_announces_its_changes(conn, table):
    """A cached layer is only as fresh as its tables' tile triggers: party_org had none, so an
    edited party organisation stayed on the map as it was until the server restarted."""
    triggers = set(
        conn.execute(
            sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"
            ),
            {"t": table},
        ).scalars()
    )
    assert {"tiles_ins", "tiles_upd", "tiles_del"} <= triggers, table

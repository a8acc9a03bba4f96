"""Every unmasked read of personal data leaves one append-only audit row; masked reads leave none."""

from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.conftest import assert_problem, plant_resident
from tests.mvt import tile_of


@pytest.fixture(scope="module")
def resident(engine, spot):
    lon, lat, _ = spot
    pid = plant_resident(engine, lon, lat, "210602197001011111", name="司马光明")
    yield pid, lon, lat
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM person WHERE id = :id"), {"id": pid})


def newest(engine, after):
    with engine.connect() as c:
        return [
            dict(r._mapping)
            for r in c.execute(sa.text("SELECT * FROM pii_access WHERE id > :a ORDER BY id"), {"a": after})
        ]


def head(engine):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT coalesce(max(id), 0) FROM pii_access")).scalar()


def reads(resident):
    pid, lon, lat = resident
    x, y = tile_of(lon, lat, 18)
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    square = [[lon - 0.001, lat - 0.001], [lon + 0.001, lat - 0.001], [lon + 0.001, lat + 0.001],
              [lon - 0.001, lat + 0.001], [lon - 0.001, lat - 0.001]]  # fmt: skip
    return [
        ("tile", "get", f"/tiles/persons/18/{x}/{y}.pbf", {}),
        ("features", "get", "/collections/persons/items", {"params": {"bbox": bbox}}),
        ("feature", "get", f"/collections/persons/items/{pid}", {}),
        ("spatial", "get", "/api/v1/spatial/persons/radius", {"params": {"lon": lon, "lat": lat, "radius": 50}}),
        ("spatial", "get", "/api/v1/spatial/persons/nearest", {"params": {"lon": lon, "lat": lat, "n": 3}}),
        ("spatial", "post", "/api/v1/spatial/persons/polygon",
         {"json": {"geometry": {"type": "Polygon", "coordinates": [square]}}}),
    ]  # fmt: skip


def test_each_unmasked_read_leaves_one_row_saying_who_what_and_why(client, auth, engine, resident):
    for action, method, path, kw in reads(resident):
        before = head(engine)
        headers = {**auth("gridworker"), "X-Access-Reason": quote("入户走访")}
        r = getattr(client, method)(path, headers=headers, **kw)
        assert r.status_code == 200, (path, r.text)
        rows = newest(engine, before)
        assert len(rows) == 1, path
        row = rows[0]
        assert (row["username"], row["role"], row["action"]) == ("gridworker", "grid_worker", action)
        assert row["resource"] == path and row["reason"] == "入户走访"
        sealed = set() if action == "tile" else {"persons.id_number", "persons.phone"}  # never in a tile
        assert set(row["fields"]) == {"persons.name", *sealed}
        assert row["rows"] is None if action == "tile" else row["rows"] >= 1


def test_a_cached_tile_is_still_a_read(client, auth, engine, resident):
    _, method, path, _ = reads(resident)[0]
    client.get(path, headers=auth("commander"))
    before = head(engine)
    r = client.get(path, headers=auth("commander"))
    assert r.status_code == 200
    assert [x["username"] for x in newest(engine, before)] == ["commander"]


def test_masked_and_clustered_reads_leave_no_row(client, auth, engine, resident):
    pid, lon, lat = resident
    before = head(engine)
    for _, method, path, kw in reads(resident):
        r = getattr(client, method)(path, headers=auth("planner"), **kw)
        assert r.status_code == 200, r.text
    x, y = tile_of(lon, lat, 16)  # clustered: counts only
    assert client.get(f"/tiles/persons/16/{x}/{y}.pbf", headers=auth("commander")).status_code == 200
    assert client.get("/collections/grid/items", headers=auth("commander")).status_code == 200
    assert newest(engine, before) == []


def test_the_log_is_append_only_even_for_the_owner(engine, client, auth, resident):
    client.get(reads(resident)[2][2], headers=auth("commander"))
    for sql in ("UPDATE pii_access SET reason = 'x'", "DELETE FROM pii_access", "TRUNCATE pii_access"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with engine.begin() as c:
                c.execute(sa.text(sql))
    assert head(engine) > 0


def test_admins_read_the_log_and_nobody_else(client, auth, resident):
    client.get(reads(resident)[2][2], headers={**auth("street"), "X-Access-Reason": quote("核实户籍")})
    r = client.get("/api/v1/audit/pii", params={"username": "street", "limit": 5}, headers=auth("admin"))
    assert r.status_code == 200
    assert r.json()[0]["reason"] == "核实户籍" and r.json()[0]["username"] == "street"
    for user in ("commander", "street", "planner", "citizen"):
        assert_problem(client.get("/api/v1/audit/pii", headers=auth(user)), 403)

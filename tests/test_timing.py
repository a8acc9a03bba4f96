"""Request ids and the slow-request log: what an operator reads when a request stalls."""

import json
import logging

from fastapi.testclient import TestClient

from api.app import create_app


def test_every_answer_carries_a_request_id_and_a_sane_one_is_kept(client):
    a = client.get("/healthz").headers["x-request-id"]
    b = client.get("/healthz").headers["x-request-id"]
    assert a and b and a != b
    assert (
        client.get("/healthz", headers={"X-Request-ID": "wall-7:42"}).headers["x-request-id"] == "wall-7:42"
    )
    odd = client.get("/healthz", headers={"X-Request-ID": "x" * 65}).headers["x-request-id"]
    assert odd != "x" * 65 and len(odd) == 16
    # problems carry it too
    assert client.get("/tiles/grid/99/0/0.pbf").headers["x-request-id"]


def test_a_slow_request_is_logged_with_its_phases(settings, token, spot, caplog):
    """Every request counts as slow here: the log line names the id, route, status and phases."""
    lon, lat, _ = spot
    with TestClient(create_app(settings.model_copy(update={"slow_request_ms": 0}))) as c:
        headers = {"Authorization": f"Bearer {token('commander')}", "X-Request-ID": "tile-1"}
        with caplog.at_level(logging.WARNING, logger="onegrid.requests"):
            r = c.get("/tiles/buildings/16/54520/24853.pbf", headers=headers)
    assert r.status_code in (200, 204)
    (line,) = [json.loads(m.split(" ", 2)[2]) for m in caplog.messages if "tile-1" in m]
    assert line["route"] == "/tiles/{layers}/{z}/{x}/{y}.pbf" and line["status"] == r.status_code
    assert line["path"] == "/tiles/buildings/16/54520/24853.pbf"
    # a fresh process: the token is checked in the database, the tile rendered from a pooled connection
    assert {"admission", "auth", "pool", "render"} <= set(line["phases_ms"])
    assert line["total_ms"] >= line["phases_ms"]["render"] > 0


def test_a_statement_timeout_is_a_query_timeout_not_an_unreachable_database(settings, token, engine):
    """A grid worker's first persons tile once answered 'database cannot be reached': it had timed out."""
    import sqlalchemy as sa

    from tests.conftest import assert_problem

    with TestClient(create_app(settings.model_copy(update={"tile_timeout_ms": 300}))) as c:
        headers = {"Authorization": f"Bearer {token('commander')}"}
        locker = engine.connect()
        try:
            tx = locker.begin()
            locker.execute(sa.text("LOCK TABLE grid IN ACCESS EXCLUSIVE MODE"))  # e.g. a boundary edit
            r = c.get("/tiles/grid/12/3463/1548.pbf", headers=headers)
            tx.rollback()
        finally:
            locker.close()
        body = assert_problem(r, 503, "query-timeout")
        assert r.headers["retry-after"] and "time limit" in body["detail"]
        assert c.get("/tiles/grid/12/3463/1548.pbf", headers=headers).status_code in (200, 204)

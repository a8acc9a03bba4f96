"""The tile edge cache (issue 25): nginx from Debian in front of a live server, as `onegrid edge` writes
it. Tiles are kept per reader class and never handed across classes (decoded and checked); a tile
with personal data unmasked is never kept; a change is visible on the next fetch through the edge."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from gis_core.publishing import edge
from tests.conftest import ACCOUNT_PASSWORD
from tests.feeds import Feed, file_report, token_for
from tests.live import free_port, live_server
from tests.mvt import decode, tile_of

pytestmark = pytest.mark.skipif(
    not __import__("os").path.exists(edge.NGINX), reason="make test installs nginx"
)


#: the report limit of the two hosts behind the edge (the tests' own servers have none to speak of)
LIMIT = 4


@pytest.fixture(scope="module")
def through(settings, tmp_path_factory):
    """(edge URL, API URL, headers per user, the second API URL): the edge's nginx in front of two
    live servers on different ports, each purging it, as `onegrid edge --upstream a,b` sets up."""
    port = free_port()
    edge_dir = tmp_path_factory.mktemp("edge")
    hosts = settings.model_copy(update={"reports_per_minute": LIMIT})
    purge = f"http://127.0.0.1:{port}"
    with (
        live_server(hosts, ONEGRID_EDGE_PURGE_URL=purge) as base,
        live_server(hosts, ONEGRID_EDGE_PURGE_URL=purge) as other,
    ):
        edge.write_conf(edge_dir, port, [base.removeprefix("http://"), other.removeprefix("http://")])
        edge.start(edge_dir)
        try:
            users = {}
            for u in ("commander", "planner", "gridworker"):
                r = httpx.post(f"{base}/api/v1/auth/token", data={"username": u, "password": "onegrid-demo"})
                users[u] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            yield f"http://127.0.0.1:{port}", base, users, other
        finally:
            edge.stop(edge_dir)


def _get(url: str, headers: dict) -> httpx.Response:
    r = httpx.get(url, headers=headers, timeout=30)
    assert r.status_code in (200, 204), r.text
    return r


def test_a_tile_is_kept_per_class_and_personal_data_is_never_kept(through, engine):
    at, base, users, _ = through
    with engine.connect() as c:
        unit = c.execute(
            sa.text(
                "SELECT code, contact_phone, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM unit "
                "WHERE contact_phone IS NOT NULL ORDER BY code LIMIT 1"
            )  # fmt: skip
        ).one()
    x, y = tile_of(unit.lon, unit.lat, 16)
    path = f"/tiles/units/16/{x}/{y}.pbf"

    def phone(r: httpx.Response) -> str:
        feats = decode(r.content, 16, x, y)["units"]["features"]
        return next(f["properties"]["contact_phone"] for f in feats if f["properties"]["code"] == unit.code)

    first, again = _get(at + path, users["planner"]), _get(at + path, users["planner"])
    assert (first.headers["X-Edge-Cache"], again.headers["X-Edge-Cache"]) == ("MISS", "HIT")
    assert again.content == first.content and phone(again) != unit.contact_phone  # masked for planners
    for _ in range(2):  # the commander reads the phone unmasked: never kept, never the planner's copy
        mine = _get(at + path, users["commander"])
        assert mine.headers["X-Edge-Cache"] != "HIT" and phone(mine) == unit.contact_phone
    # a grid worker's class is their own: the commander's kept grid tile is not theirs, and theirs equals the API's
    gx, gy = tile_of(unit.lon, unit.lat, 13)
    grid = f"/tiles/grid/13/{gx}/{gy}.pbf"
    kept = [_get(at + grid, users["commander"]) for _ in range(2)]
    assert [r.headers["X-Edge-Cache"] for r in kept] == ["MISS", "HIT"]
    worker = [_get(at + grid, users["gridworker"]) for _ in range(2)]
    assert [r.headers["X-Edge-Cache"] for r in worker] == ["MISS", "HIT"]
    direct = _get(base + grid, users["gridworker"])
    assert decode(worker[1].content, 13, gx, gy).keys() == decode(direct.content, 13, gx, gy).keys()
    assert worker[1].content == direct.content
    assert httpx.get(at + grid).status_code == 401  # no token, no tile: the edge asks the API who it is
    # a client that takes no gzip never gets the gzip copy another client filled (the edge ignores Vary)
    plain = [_get(at + grid, users["gridworker"] | {"Accept-Encoding": "identity"}) for _ in range(2)]
    assert [r.headers["X-Edge-Cache"] for r in plain] == ["MISS", "HIT"]
    assert "Content-Encoding" not in plain[1].headers and plain[1].content == direct.content


def test_an_edit_is_visible_on_the_next_fetch_through_the_edge(through, engine):
    at, _, users, _ = through
    with engine.connect() as c:
        point = c.execute(
            sa.text(
                "SELECT code, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM key_point ORDER BY code LIMIT 1"
            )
        ).one()
    x, y = tile_of(point.lon, point.lat, 15)
    path = f"{at}/tiles/key_points/15/{x}/{y}.pbf"

    def name(r: httpx.Response) -> str:
        feats = decode(r.content, 15, x, y)["key_points"]["features"]
        return next(f["properties"]["name"] for f in feats if f["properties"]["code"] == point.code)

    _get(path, users["planner"])
    kept = _get(path, users["planner"])
    assert kept.headers["X-Edge-Cache"] == "HIT" and name(kept) == point.name
    try:
        with engine.begin() as c:
            c.execute(
                sa.text("UPDATE key_point SET name = '边缘缓存测试点' WHERE code = :c"), {"c": point.code}
            )
        deadline = time.monotonic() + 5  # the change notice reaches the server, which purges the edge
        while (r := _get(path, users["planner"])).headers[
            "X-Edge-Cache"
        ] == "HIT" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.headers["X-Edge-Cache"] == "MISS" and name(r) == "边缘缓存测试点"
    finally:
        with engine.begin() as c:
            c.execute(
                sa.text("UPDATE key_point SET name = :n WHERE code = :c"), {"n": point.name, "c": point.code}
            )


def test_tls_terminates_at_the_edge(through, tmp_path):
    """The documented setup: HTTPS to the edge, plain HTTP on loopback behind it."""
    import ipaddress
    import ssl
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "edge.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "edge.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port, edge_dir, base = (
        free_port(),
        tmp_path / "edge",
        through[1],
    )  # a second edge, TLS, before the same API
    pem, key_file = str(tmp_path / "edge.pem"), str(tmp_path / "edge.key")
    edge.write_conf(edge_dir, port, [base.removeprefix("http://")], pem, key_file)
    edge.start(edge_dir)
    try:
        trust = ssl.create_default_context(cafile=pem)
        r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trust)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
    finally:
        edge.stop(edge_dir)


def _reports_posted(host: str) -> float:
    """Report submissions this host answered, from its own /metrics (one process per host here)."""
    text = httpx.get(f"{host}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "onegrid_requests_total"
        and sample.labels.get("method") == "POST"
        and sample.labels.get("route") == "/api/v1/incidents"
    )


def test_two_hosts_behind_the_edge_share_the_feed_and_the_report_limit(through, spot, account):
    at, base, _, other = through
    lon, lat, _ = spot
    wall = Feed(at, token_for(at, "commander"))  # the wall's feed through the edge, on one of the hosts
    wall.start()
    assert wall.ready.wait(10)
    time.sleep(0.3)
    worker = token_for(base, "gridworker")
    for host in (base, other):  # a report filed on either host reaches it within 2 s
        t0 = time.monotonic()
        filed = file_report(host, worker, lon, lat)
        assert wall.wait_for(lambda d, f=filed: d["id"] == f) is not None
        assert time.monotonic() - t0 < 2.0
    wall.stop.set()
    # one phone through the edge, its requests spread over both hosts: the limit holds once in all
    before = {h: _reports_posted(h) for h in (base, other)}
    citizen = httpx.post(f"{at}/api/v1/auth/token", data={"username": account, "password": ACCOUNT_PASSWORD})
    headers = {"Authorization": f"Bearer {citizen.json()['access_token']}"}
    codes = [
        httpx.post(
            f"{at}/api/v1/incidents",
            headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
            data={"category": "0101", "lon": str(lon), "lat": str(lat)},
        ).status_code
        for _ in range(LIMIT + 3)
    ]
    assert codes == [201] * LIMIT + [429] * 3
    assert all(_reports_posted(h) > before[h] for h in (base, other)), "the edge used one host only"

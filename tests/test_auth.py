"""Accounts: OAuth2 password flow, demo account per role, expiry, revocation, demo-secret refusal."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from gis_core.ingest.demo_load import DEMO_ACCOUNTS, DEMO_PASSWORD
from gis_core.platform.accounts import DefaultSecretError, refuse_demo_passwords
from gis_core.platform.auth import ROLES, issue_token, user_for_token, user_named
from gis_core.platform.errors import AuthError
from tests.conftest import assert_problem


def test_one_demo_account_per_role(conn):
    names = [a[0] for a in DEMO_ACCOUNTS]  # other tests add accounts of their own
    roles = (
        conn.execute(sa.text("SELECT role FROM app_user WHERE username = ANY(:n)"), {"n": names})
        .scalars()
        .all()
    )
    assert sorted(roles) == sorted(ROLES)
    assert len({a[2] for a in DEMO_ACCOUNTS}) == len(ROLES)


@pytest.mark.parametrize("username,_d,role,level", DEMO_ACCOUNTS)
def test_every_demo_account_logs_in_with_its_jurisdiction(client, username, _d, role, level):
    r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer" and r.json()["expires_in"] > 0
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert me["role"] == role
    expected_len = {"district": 12, "street": 12, "community": 12, "grid": 15, None: None}[level]
    assert (len(me["jurisdiction_code"]) if me["jurisdiction_code"] else None) == expected_len


def test_grid_worker_account_is_linked_to_a_worker_of_its_grid(conn):
    row = conn.execute(
        sa.text(
            "SELECT u.jurisdiction_code, g.code FROM app_user u JOIN worker w ON w.user_id = u.id "
            "JOIN worker_grid wg ON wg.worker_id = w.id JOIN grid g ON g.id = wg.grid_id WHERE u.username = 'gridworker'"
        )
    ).one()
    assert row[0] == row[1]


@pytest.mark.parametrize("username,password", [("commander", "wrong"), ("nobody", DEMO_PASSWORD), ("", "")])
def test_bad_credentials_are_a_401_problem(client, username, password):
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code in (401, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_garbage_token_is_rejected(client):
    assert_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nonsense"}), 401, "unauthorized"
    )


def test_logout_revokes_the_token(client):
    tok = client.post("/api/v1/auth/token", data={"username": "planner", "password": DEMO_PASSWORD}).json()[
        "access_token"
    ]
    h = {"Authorization": f"Bearer {tok}"}
    assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert_problem(client.get("/api/v1/auth/me", headers=h), 401)


def test_expired_token_does_not_authenticate(conn):
    admin = user_named(conn, "admin")
    tok, _ = issue_token(conn, admin, timedelta(seconds=-1))
    with pytest.raises(AuthError):
        user_for_token(conn, tok)
    live, _ = issue_token(conn, admin, timedelta(minutes=5))
    assert user_for_token(conn, live).username == "admin"


def test_tokens_are_stored_hashed(conn):
    admin = user_named(conn, "admin")
    tok, _ = issue_token(conn, admin, timedelta(minutes=5))
    assert (
        conn.execute(sa.text("SELECT count(*) FROM api_token WHERE token_hash = :t"), {"t": tok}).scalar()
        == 0
    )


def test_demo_passwords_are_refused_outside_demo_mode(conn):
    with pytest.raises(DefaultSecretError):
        refuse_demo_passwords(conn)
    conn.execute(sa.text("UPDATE app_user SET password_hash = NULL"))
    refuse_demo_passwords(conn)  # no demo secret left: start-up may proceed


def test_app_refuses_to_start_with_demo_passwords_when_not_in_demo_mode(settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with pytest.raises(DefaultSecretError):
        with TestClient(create_app(settings.model_copy(update={"demo_mode": False}))):
            pass


def test_a_revocation_elsewhere_reaches_this_process_at_once(client, engine):
    """Checked tokens are cached in process; a revocation by any process is announced and honoured."""
    import time

    from gis_core.platform.auth import revoke_token

    tok = client.post("/api/v1/auth/token", data={"username": "planner", "password": DEMO_PASSWORD}).json()[
        "access_token"
    ]
    h = {"Authorization": f"Bearer {tok}"}
    assert client.get("/api/v1/auth/me", headers=h).status_code == 200  # now cached
    with engine.begin() as c:  # another process (a second worker, an admin tool) revokes it
        revoke_token(c, tok)
    deadline = time.monotonic() + 5
    while client.get("/api/v1/auth/me", headers=h).status_code == 200:
        assert time.monotonic() < deadline, "the revoked token was still accepted after 5 s"
        time.sleep(0.02)
    assert_problem(client.get("/api/v1/auth/me", headers=h), 401)


def test_a_check_racing_a_revocation_is_not_cached():
    from datetime import UTC, datetime, timedelta

    from gis_core.platform.auth import TokenCache, User, token_digest

    cache = TokenCache(ttl_s=30)
    user = User(1, "u", "u", "planner", None, None)
    generation = cache.generation  # a check starts and asks the database...
    cache.forget(token_digest("t"))  # ...while the revocation notice arrives
    cache.put("t", user, datetime.now(UTC) + timedelta(hours=1), 0.0, generation)
    assert cache.get("t", 1.0) is None
    cache.put("t", user, datetime.now(UTC) + timedelta(hours=1), 0.0, cache.generation)
    assert cache.get("t", 1.0) == user and cache.get("t", 31.0) is None  # and entries expire


def _state(engine, ttl_s=30.0):
    from types import SimpleNamespace

    from gis_core.platform.auth import TokenCache

    state = SimpleNamespace(token_cache=TokenCache(ttl_s), token_checks={}, auth_engine=engine)
    return SimpleNamespace(app=SimpleNamespace(state=state)), state


def _counting_checks(monkeypatch):
    import api.deps

    calls = []
    real = api.deps._user_from_db

    def counted(engine, token):
        calls.append(token)
        return real(engine, token)

    monkeypatch.setattr(api.deps, "_user_from_db", counted)
    return calls


def test_requests_that_miss_the_token_cache_together_share_one_check(engine, token, monkeypatch):
    """At the cache's expiry each of a client's in-flight requests checked the token itself."""
    import asyncio

    from api.deps import user_of_token

    calls = _counting_checks(monkeypatch)
    request, state = _state(engine)
    t = token("planner")

    async def eight():
        return await asyncio.gather(*(user_of_token(request, t) for _ in range(8)))

    users = asyncio.run(eight())
    assert {u.username for u in users} == {"planner"} and len(calls) == 1
    assert state.token_checks == {}  # nothing left in flight


def test_a_token_due_a_refresh_is_answered_at_once_and_checked_in_the_background(engine, token, monkeypatch):
    import asyncio
    import time
    from datetime import UTC, datetime, timedelta

    from api.deps import user_of_token
    from gis_core.platform.auth import User

    calls = _counting_checks(monkeypatch)
    request, state = _state(engine, ttl_s=30.0)
    t = token("planner")
    stale = User(0, "planner", "before the refresh", "planner", None, None)
    # checked 25 s ago: past three quarters of its 30 s life, not yet expired
    state.token_cache.put(t, stale, datetime.now(UTC) + timedelta(hours=1), time.monotonic() - 25, 0)
    assert state.token_cache.lookup(t, time.monotonic()) == (stale, True)

    async def twice():
        first = await user_of_token(request, t)  # answered from the cache; the check starts
        assert len(state.token_checks) == 1
        await asyncio.gather(*state.token_checks.values())
        return first, await user_of_token(request, t)

    first, second = asyncio.run(twice())
    assert first is stale and second.display_name != "before the refresh" and len(calls) == 1
    assert state.token_cache.lookup(t, time.monotonic())[1] is False  # fresh again


def test_a_refresh_that_finds_the_token_dead_drops_it(engine, monkeypatch):
    import asyncio
    import time
    from datetime import UTC, datetime, timedelta

    from api.deps import user_of_token
    from gis_core.platform.auth import User

    request, state = _state(engine, ttl_s=30.0)
    ghost = User(0, "ghost", "ghost", "commander", None, None)
    state.token_cache.put(
        "no-such-token", ghost, datetime.now(UTC) + timedelta(hours=1), time.monotonic() - 25, 0
    )

    async def run():
        assert await user_of_token(request, "no-such-token") is ghost
        await asyncio.gather(*state.token_checks.values(), return_exceptions=True)

    asyncio.run(run())
    assert state.token_cache.get("no-such-token", time.monotonic()) is None

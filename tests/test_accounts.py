"""Accounts under attack: lock-out after failed logins, rate limits on logins and reports."""

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from tests.conftest import ACCOUNT_PASSWORD as PASSWORD
from tests.conftest import assert_problem


def login(client, username, password):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_repeated_failures_lock_the_account_even_against_the_right_password(
    client, engine, account, settings
):
    for _ in range(settings.login_failures_max - 1):
        assert_problem(login(client, account, "guess"), 401)
    assert login(client, account, PASSWORD).status_code == 200  # a success resets the count
    for _ in range(settings.login_failures_max):
        assert_problem(login(client, account, "guess"), 401)
    locked = login(client, account, PASSWORD)
    body = assert_problem(locked, 429, "rate-limited")
    wait = int(locked.headers["Retry-After"])
    assert 0 < wait <= settings.login_lock_minutes * 60 and body["retry_after"] == wait
    # the lock ends by itself
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE app_user SET locked_until = now() - interval '1 second' WHERE username = :n"),
            {"n": account},
        )
    assert login(client, account, PASSWORD).status_code == 200


def test_an_unknown_user_and_a_wrong_password_answer_alike(client, account):
    a = assert_problem(login(client, account, "guess"), 401)
    b = assert_problem(login(client, "no-such-user", "guess"), 401)
    assert a["detail"] == b["detail"]


@pytest.fixture
def strict_client(settings):
    """An app of its own with the limits a real deployment has, not the suite's relaxed ones.

    The counts are the database's, shared by apps with the same limits: only the login test
    uses this login limit, only the report test this report limit.
    """
    strict = settings.model_copy(update={"login_per_minute": 5, "reports_per_minute": 3})
    with TestClient(create_app(strict)) as c:
        yield c


@pytest.fixture
def report_client(settings):
    """An app whose report limit is a real deployment's (its logins, the suite's)."""
    with TestClient(create_app(settings.model_copy(update={"reports_per_minute": 3}))) as c:
        yield c


def test_logins_are_rate_limited_per_client(strict_client, account):
    codes = [login(strict_client, account, PASSWORD).status_code for _ in range(5)]
    assert codes == [200] * 5
    r = login(strict_client, account, PASSWORD)
    body = assert_problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) >= 1 and body["where"] == "body.username"


def test_report_submissions_are_rate_limited_per_user_and_nothing_is_stored(report_client, engine, spot):
    from gis_core.ingest.demo_load import DEMO_PASSWORD

    lon, lat, _ = spot
    tokens = {
        u: login(report_client, u, DEMO_PASSWORD).json()["access_token"] for u in ("citizen", "gridworker")
    }

    def report(user, key):
        return report_client.post(
            "/api/v1/incidents",
            headers={"Authorization": f"Bearer {tokens[user]}", "Idempotency-Key": key},
            data={"category": "0101", "description": "限流测试", "lon": str(lon), "lat": str(lat)},
        )

    keys = [f"rate-{uuid.uuid4()}" for _ in range(4)]
    assert [report("citizen", k).status_code for k in keys[:3]] == [201, 201, 201]
    r = report("citizen", keys[3])
    assert_problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) >= 1
    assert report("gridworker", keys[3]).status_code == 201  # another user's quota is their own
    with engine.connect() as c:
        stored = c.execute(
            sa.text(
                "SELECT u.username FROM incident i JOIN app_user u ON u.id = i.reporter_user_id "
                "WHERE idempotency_key = ANY(:k) ORDER BY i.id"
            ),
            {"k": keys},
        ).scalars()
        assert list(stored) == ["citizen"] * 3 + ["gridworker"]
    with engine.begin() as c:  # the demo's own counts are checked elsewhere
        c.execute(sa.text("DELETE FROM incident WHERE idempotency_key = ANY(:k)"), {"k": keys})


def test_the_window_moves_and_old_minutes_are_swept(engine):
    """The shared limiter's sliding window, on the database's table, at times of the test's choosing."""
    from datetime import UTC, datetime, timedelta

    from api import rate_limits
    from gis_core.platform.errors import RateLimited

    limiter = rate_limits.Limiter(engine, 3, "reports")
    key, t0 = f"user:{uuid.uuid4()}", datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    for dt in (0, 10, 20):
        limiter.hit(key, at=t0 + timedelta(seconds=dt))
    with pytest.raises(RateLimited) as refused:
        limiter.hit(key, where="header.Authorization", at=t0 + timedelta(seconds=30))
    assert refused.value.retry_after >= 1 and refused.value.where == "header.Authorization"
    limiter.hit(f"{key}-other", at=t0 + timedelta(seconds=30))  # keys are counted apart
    # two minutes on, the earlier minutes weigh nothing: three more fit, not four
    for dt in (120, 121, 122):
        limiter.hit(key, at=t0 + timedelta(seconds=dt))
    with pytest.raises(RateLimited):
        limiter.hit(key, at=t0 + timedelta(seconds=123))
    # at 3:30 the minute of 2:00 (four hits) weighs half: one fits (1 + 4 × 0.5 = 3), a second does not
    limiter.hit(key, at=t0 + timedelta(seconds=210))
    with pytest.raises(RateLimited):
        limiter.hit(key, at=t0 + timedelta(seconds=211))
    limiter._until_sweep = 1  # the next hit sweeps what is two minutes old
    limiter.hit(f"{key}-late", at=t0 + timedelta(seconds=600))
    with engine.connect() as c:
        left = c.execute(
            sa.text("SELECT count(*) FROM rate_window WHERE key LIKE :k"), {"k": f"reports/3/{key}%"}
        )
        assert left.scalar() == 1  # only the late key's minute

"""Several API hosts on one database (issue 25): the report limit and the lock-out hold across them,
not once per host."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import ACCOUNT_PASSWORD
from tests.live import live_server


def test_two_hosts_share_the_report_limit_and_the_lock_out(settings, spot, account):
    lon, lat, _ = spot
    strict = settings.model_copy(update={"reports_per_minute": 4})
    with (
        live_server(strict, ONEGRID_LOGIN_FAILURES_MAX="3") as a,
        live_server(strict, ONEGRID_LOGIN_FAILURES_MAX="3") as b,
    ):
        token = httpx.post(f"{a}/api/v1/auth/token", data={"username": account, "password": ACCOUNT_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        codes = []
        for i in range(8):  # one phone, its requests spread over both hosts
            r = httpx.post(
                f"{(a, b)[i % 2]}/api/v1/incidents",
                headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
                data={"category": "0101", "lon": str(lon), "lat": str(lat)},
            )
            codes.append(r.status_code)
        assert codes == [201] * 4 + [429] * 4  # four in all, not four per host
        for _ in range(3):  # wrong passwords on one host lock the account on the other too
            assert (
                httpx.post(
                    f"{a}/api/v1/auth/token", data={"username": account, "password": "guess"}
                ).status_code
                == 401
            )
        locked = httpx.post(
            f"{b}/api/v1/auth/token", data={"username": account, "password": ACCOUNT_PASSWORD}
        )
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0

"""冷链监管: a cold-chain site, its readings, cameras and alert history; gateways post readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import ConnDep, SettingsDep, require_roles
from gis_core.field import cold_chain, warning_rules
from gis_core.platform.auth import COMMAND, PLACE_WATCHERS
from gis_core.platform.errors import TooLarge

router = APIRouter(prefix="/api/v1", tags=["cold chain"])
#: who reads a site's watch: the staff on the loop and planners, as the cold-chain layer
READERS = require_roles(*PLACE_WATCHERS)
GATEWAYS = require_roles(*COMMAND)
MAX_READINGS = 10_000


class Reading(BaseModel):
    """One temperature reading of a cold-chain site's probe."""

    site: str = Field(description="The site's code, e.g. CC001")
    t: AwareDatetime
    temperature_c: float = Field(ge=-80, le=80)


class Readings(BaseModel):
    """A batch of readings; a resent batch stores nothing twice."""

    readings: list[Reading]


@router.get(
    "/cold-chain/sites/{code}",
    summary="A cold-chain site: cameras and latest reading",
    dependencies=[READERS],
)
def get_site(code: str, conn: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    """Where the site is, what it is, the cameras watching it and its newest reading."""
    return cold_chain.site(conn, code, settings.cold_chain_max_c)


@router.get(
    "/cold-chain/sites/{code}/readings", summary="A site's temperature readings", dependencies=[READERS]
)
def get_readings(
    code: str,
    conn: ConnDep,
    settings: SettingsDep,
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="Default: 24 h before `to`")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to", description="Default: now")] = None,
) -> dict[str, Any]:
    """Readings oldest first (at most 31 days), and how many were warmer than the alarm limit."""
    until = until or datetime.now(UTC)
    return cold_chain.readings(
        conn, code, since or until - timedelta(hours=24), until, settings.cold_chain_max_c
    )


@router.get("/cold-chain/sites/{code}/alerts", summary="A site's temperature alerts", dependencies=[READERS])
def get_alerts(code: str, conn: ConnDep) -> dict[str, Any]:
    """Every alert the site raised, newest first, each with its timeline (raise, acknowledge, clear)."""
    return cold_chain.alerts(conn, code)


@router.post("/cold-chain/readings", summary="Cold-chain temperature readings in", dependencies=[GATEWAYS])
def post_readings(body: Readings, conn: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    """Store readings once each, then run the cold-chain rule at once so an alarm is not a minute late."""
    if len(body.readings) > MAX_READINGS:
        raise TooLarge(f"at most {MAX_READINGS} readings per post", where="body.readings")
    result = cold_chain.store_readings(conn, [(r.site, r.t, r.temperature_c) for r in body.readings])
    rule = warning_rules.evaluate(conn, datetime.now(UTC), settings, ["cold_chain_temperature"])
    return result | {"warnings": rule["cold_chain_temperature"]}

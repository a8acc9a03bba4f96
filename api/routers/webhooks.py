"""Outbound webhooks (admins only): subscriptions, the dead-letter list, and replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import ConnDep, require_roles
from gis_core.channels import webhooks
from gis_core.platform.scope import as_system

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
ADMIN = require_roles("admin")


class SubscriptionIn(BaseModel):
    """An external system to tell: where, about which actions, for which sources' incidents."""

    name: str
    url: str = Field(description="http:// or https://; link-local and metadata addresses are refused")
    events: list[str] = Field(
        default_factory=list, description="Timeline actions (report, accept, dispatch, …); empty: all"
    )
    sources: list[str] = Field(default_factory=list, description="Incident sources (hotline, …); empty: all")
    secret: str | None = Field(
        default=None, description="The HMAC key (16-200 characters); made for you if absent"
    )


@router.post("", status_code=201, summary="Subscribe an external system", dependencies=[ADMIN])
def create(conn: ConnDep, body: SubscriptionIn) -> dict[str, Any]:
    """The subscription, with its `secret` this once (deliveries are signed with it)."""
    with as_system(conn):  # the outbox's tables are the owner's: the request role may not read secrets
        return webhooks.subscribe(conn, body.name, body.url, body.events, body.sources, body.secret).__dict__


@router.get("", summary="Subscriptions", dependencies=[ADMIN])
def list_all(conn: ConnDep) -> dict[str, Any]:
    """Every subscription (secrets withheld)."""
    with as_system(conn):
        subs = webhooks.subscriptions(conn)
    return {"subscriptions": [{k: v for k, v in s.__dict__.items() if k != "secret"} for s in subs]}


@router.delete("/{sid}", status_code=204, summary="Unsubscribe", dependencies=[ADMIN])
def delete(conn: ConnDep, sid: Annotated[int, Path()]) -> None:
    """Nothing more is queued for it; its queued deliveries are dropped."""
    with as_system(conn):
        webhooks.unsubscribe(conn, sid)


@router.get("/dead", summary="Deliveries that gave up", dependencies=[ADMIN])
def dead(conn: ConnDep) -> dict[str, Any]:
    """The dead-letter list, newest first: event, incident, attempts, last status and error."""
    with as_system(conn):
        return {"deliveries": webhooks.dead_letters(conn)}


@router.post("/dead/replay", summary="Queue dead deliveries again", dependencies=[ADMIN])
def replay(conn: ConnDep, ids: list[int] | None = None) -> dict[str, int]:
    """`ids` (a JSON list), or every dead delivery when none are named."""
    with as_system(conn):
        return {"requeued": webhooks.replay(conn, ids)}

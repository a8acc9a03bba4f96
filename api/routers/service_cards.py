"""Service cards (服务联系卡): a grid worker's public card as JSON, SVG or PNG, and a community's print page.

Public: a card is printed and posted for residents, so it needs no token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ConnDep
from gis_core.publishing import service_cards

router = APIRouter(tags=["service cards"])
_CACHE = {"Cache-Control": "public, max-age=300"}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/api/v1/service-cards/{worker_code}.svg", summary="A grid worker's service card (SVG)")
def card_svg(worker_code: str, request: Request, conn: ConnDep) -> Response:
    """The card to print: name, duty phone, grid, community, and a QR code to the citizen page."""
    card = service_cards.card(conn, worker_code)
    return Response(service_cards.svg(card, _base(request)), media_type="image/svg+xml", headers=_CACHE)


@router.get("/api/v1/service-cards/{worker_code}.png", summary="A grid worker's service card (PNG)")
def card_png(worker_code: str, request: Request, conn: ConnDep) -> Response:
    """The same card as a 856 × 540 PNG (85.6 × 54 mm at 10 px/mm)."""
    card = service_cards.card(conn, worker_code)
    return Response(service_cards.png(card, _base(request)), media_type="image/png", headers=_CACHE)


@router.get("/api/v1/service-cards/{worker_code}", summary="A grid worker's public duty information")
def card_json(worker_code: str, request: Request, conn: ConnDep) -> dict[str, Any]:
    """What the card shows, the link its QR code opens, and a point in the grid for reports from it."""
    return service_cards.card(conn, worker_code).as_dict(_base(request))


@router.get("/cards/{community_code}", response_class=HTMLResponse, include_in_schema=False)
def print_page(community_code: str, request: Request, conn: ConnDep) -> HTMLResponse:
    """Every card of a community on A4, two to a row, for the community office to print."""
    cards = service_cards.community_cards(conn, community_code)
    return HTMLResponse(service_cards.print_page(cards, _base(request)), headers=_CACHE)

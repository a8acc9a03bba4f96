"""The kinds of feature `onegrid import` reads, and how each maps onto its table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUIRED = object()


@dataclass(frozen=True)
class ImportKind:
    """How one kind of feature maps onto its table."""

    table: str
    geometry: str  # "polygon" | "point" | "point_or_polygon"
    columns: dict[str, tuple[type, Any]]  # attribute -> (type, default or REQUIRED)
    parent: tuple[str, str, str] | None = None  # (code attribute, parent table, fk column)


_UNIT = {"code": (str, REQUIRED), "name": (str, REQUIRED)}
IMPORT_KINDS: dict[str, ImportKind] = {
    "district": ImportKind("district", "polygon", dict(_UNIT)),
    "street": ImportKind(
        "street", "polygon", {**_UNIT, "kind": (str, "street")}, ("district_code", "district", "district_id")
    ),
    "community": ImportKind(
        "community", "polygon", {**_UNIT, "kind": (str, "community")}, ("street_code", "street", "street_id")
    ),
    "grid": ImportKind(
        "grid", "polygon", {**_UNIT, "kind": (str, "urban")}, ("community_code", "community", "community_id")
    ),
    "building": ImportKind(
        "building",
        "polygon",
        {
            "code": (str, REQUIRED),
            "address": (str, ""),
            "use": (str, "residential"),
            "floors": (int, 1),
            "households": (int, 0),
        },
    ),
    "camera": ImportKind(
        "camera",
        "point",
        {
            "code": (str, REQUIRED),
            "name": (str, ""),
            "source_system": (str, "street_built"),
            "preset_group": (int, 1),
            "bearing_deg": (float, 0.0),
            "fov_deg": (float, 60.0),
            "range_m": (float, 50.0),
            "online": (bool, True),
        },
    ),
    "service_center": ImportKind(
        "service_center",
        "point",
        {
            "code": (str, REQUIRED),
            "name": (str, REQUIRED),
            "level": (str, "community"),
            "circle_minutes": (int, 5),
        },
    ),
    "key_point": ImportKind(
        "key_point",
        "point",
        {
            "code": (str, REQUIRED),
            "name": (str, REQUIRED),
            "kind": (str, "other"),
            "patrol_interval_h": (int, 24),
        },
    ),
    "party_org": ImportKind(
        "party_org",
        "point",
        {"code": (str, REQUIRED), "name": (str, REQUIRED), "level": (str, "community"), "members": (int, 0)},
    ),
    "unit": ImportKind(
        "unit",
        "point",
        {
            "code": (str, REQUIRED),
            "name": (str, REQUIRED),
            "kind": (str, "shop"),
            "industry": (str, ""),
            "contact_name": (str, None),
            "contact_phone": (str, None),
            "employees": (int, 0),
        },
    ),
    "cold_chain_site": ImportKind(
        "cold_chain_site",
        "point_or_polygon",
        {
            "code": (str, REQUIRED),
            "name": (str, REQUIRED),
            "category": (str, "cold_chain_firm"),
            "risk_level": (str, "medium"),
        },
    ),
}
POLY_COLUMN_IS_MULTI = {"district", "street", "community", "grid", "building"}

"""Which anchored rows a user may read: the transaction's user for row-level security, and SQL conditions.

Every anchored table carries `grid_id`, `community_id` and `street_id` (derived from its
geometry), so one rule serves incidents, persons, warnings, workers' positions and every
layer: the command centre, admins and planners read the whole district, a street or
community officer their area, a grid worker their grids.

The database enforces it: requests run as `onegrid_app`, bound by the row-level security
policies of migration 0009, which read the user that `act_as` names for the transaction.
The conditions below say the same in the application's queries, so that plans stay
index-friendly and background work (which runs as the owner) can ask on a user's behalf.
Values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import DISTRICT_WIDE, OFFICERS, User
from gis_core.platform.errors import InvalidInput

#: Names the transaction's user for the row-level security policies (migration 0009).
ACT_AS_SQL = "SELECT set_config('onegrid.uid', :act_as_uid, true)"


def act_as_params(user: User | None) -> dict[str, str]:
    """The parameters of ACT_AS_SQL for `user` (None: anonymous)."""
    return {"act_as_uid": str(user.id) if user else ""}


@contextmanager
def as_system(conn: sa.Connection) -> Iterator[None]:
    """Run the workflow's own consequences of a user's action beyond the user's reach, then return to it.

    A sub-task's handler resolves their part, and the split parent they may not read is resolved
    with it: code decides that, not the user. `SET LOCAL ROLE NONE` (the login role, which owns
    the tables) lasts at most to the transaction's end, so an error inside cannot leave the
    connection unbound; on success the transaction's own role is set back.
    """
    role = conn.execute(sa.text("SELECT current_user")).scalar_one()
    conn.execute(sa.text("SET LOCAL ROLE NONE"))
    yield
    conn.execute(sa.text(f"SET LOCAL ROLE {conn.dialect.identifier_preparer.quote(role)}"))


def act_as(conn: sa.Connection, user: User | None) -> None:
    """Bind the rest of `conn`'s transaction to `user` (None: anonymous, who sees no protected row)."""
    conn.execute(sa.text(ACT_AS_SQL), act_as_params(user))


def jurisdiction_clause(user: User, alias: str, params: dict[str, Any]) -> str:
    """SQL condition on `alias` limiting anchored rows to `user`'s jurisdiction.

    Department handlers and citizens have no area: they read no anchored rows through this
    rule (incidents add their own, see `gis_core.incidents.queries.scope_clause`).
    """
    if user.role in DISTRICT_WIDE:
        return "true"
    params["scope_uid"] = user.id
    if user.role == "grid_worker":
        return f"{alias}.grid_id IN ({worker_grids_sql(user, params)})"
    if user.role in OFFICERS:
        level, unit = officer_unit(user, params)
        return f"{alias}.{level}_id = {unit}"
    return "false"


def worker_grids_sql(user: User, params: dict[str, Any]) -> str:
    """A subquery of the ids of the grids that grid worker `user` is responsible for (w: their worker row)."""
    params["scope_uid"] = user.id
    return (
        "SELECT wg.grid_id FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id "
        "WHERE w.user_id = :scope_uid"
    )


def officer_unit(user: User, params: dict[str, Any]) -> tuple[str, str]:
    """A street or community officer's level, and a subquery of their unit's id."""
    params["scope_area"] = (user.jurisdiction_code or "").strip()
    level = "street" if user.role == "street_officer" else "community"
    return level, f"(SELECT id FROM {level} WHERE code = :scope_area)"


def check_area_code(code: str, where: str = "query.area") -> str:
    """`code` stripped, if it is a 12-digit unit code or a 15-digit grid code; 400 problem otherwise."""
    code = code.strip()
    if not code.isdigit() or len(code) not in (12, 15):
        raise InvalidInput("area must be a 12-digit unit code or a 15-digit grid code", where=where)
    return code


def area_clause(code: str, geom: str, params: dict[str, Any], where: str = "query.area") -> str:
    """SQL condition: the geometry expression `geom` intersects the unit with `code`, at any level.

    A 12-digit code names the district, a street/town or a community/village; a 15-digit
    code a grid. Spatial, so it serves anchored tables and the hierarchy layers alike.
    """
    params["area_code"] = check_area_code(code, where)
    unit = (
        "SELECT geom FROM district WHERE code = :area_code UNION ALL "
        "SELECT geom FROM street WHERE code = :area_code UNION ALL "
        "SELECT geom FROM community WHERE code = :area_code UNION ALL "
        "SELECT geom FROM grid WHERE code = :area_code"
    )
    return f"EXISTS (SELECT 1 FROM ({unit}) u WHERE ST_Intersects({geom}, u.geom))"

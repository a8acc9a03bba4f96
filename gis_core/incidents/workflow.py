"""The closed loop 受理 → 分流交办 → 联动处置 → 反馈评价 as a state machine with role checks.

States: reported → accepted → dispatched → in_progress (⇄ suspended) → resolved → closed;
rejected and merged end a report early; a handler may return (退回) a dispatched incident to
be sorted again, with a reason; escalate moves an incident one level up
(grid → community → street → district department); an 'unsatisfied' rating reopens it to
its handler. The centre may split (拆分) an accepted report into sub-tasks for several units
(`subtasks`), press a handler (督办 urge) and move a deadline for a reason (延期 extend).
Every action is one conditional UPDATE on (id, version, state), so of several concurrent
actions on the same version exactly one wins, and one timeline row is appended;
`actions.act` takes a person's action, this module says what it may do and what it does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import OFFICERS, User
from gis_core.platform.errors import Conflict, InvalidInput, NotFound

LEVELS = ("grid", "community", "street", "district")
#: Who handles at each level below the district (the district uses the category's department).
LEVEL_OFFICE = {"grid": "grid_self", "community": "community_office", "street": "street_office"}
#: District department when the category's own department is not a district one.
DISTRICT_FALLBACK_DEPARTMENT = "urban_mgmt"
# ---- the one vocabulary of states: every layer, query, page and SQL file takes its groups here
#: A deadline is running: waiting to be accepted, dispatched or handled.
ACTIVE_STATES = ("reported", "accepted", "dispatched", "in_progress")
#: Open: work still to do (a suspended incident waits for something, its clock stopped).
OPEN_STATES = (*ACTIVE_STATES, "suspended")
#: Handled, waiting for the reporter's rating (反馈评价); an 'unsatisfied' one reopens.
AWAITING_RATING_STATES = ("resolved",)
#: Not yet finished: open or awaiting the rating (the wall draws the two apart).
UNFINISHED_STATES = (*OPEN_STATES, *AWAITING_RATING_STATES)
#: Finished: rated and closed, or ended early as rejected or merged.
CLOSED_STATES = ("closed", "rejected", "merged")
SOURCES = ("grid_worker", "citizen", "hotline", "camera")  # incident.source: where an incident came from
STATES = (*UNFINISHED_STATES, *CLOSED_STATES)
#: Before dispatch: still with the command centre (or the level's coordinator).
UNSORTED_STATES = ("reported", "accepted")
#: Dispatched and not yet resolved: in the handler's hands (their inbox).
HANDLING_STATES = ("dispatched", "in_progress", "suspended")
COORDINATORS = ("commander", *OFFICERS)  # who sorts in the workflow (admins run the system, not the loop)
RATINGS = ("satisfied", "basic", "unsatisfied")
#: Actions that need a reason in their note.
REASONED = ("reject", "return", "urge", "extend")
MAX_EXTEND_HOURS = 720
MAX_SUBTASKS = 10


@dataclass(frozen=True)
class Action:
    """A workflow action: the states it starts from and who may take it."""

    name: str
    sources: tuple[str, ...]
    who: str  # coordinator | handler | escalator | rater
    label: str


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("accept", ("reported",), "coordinator", "受理"),
        Action("reject", ("reported",), "coordinator", "不予受理"),
        Action("merge", UNSORTED_STATES, "coordinator", "合并重复"),
        Action("dispatch", ("accepted",), "coordinator", "分流交办"),
        Action("start", ("dispatched",), "handler", "开始处置"),
        Action("suspend", ("in_progress",), "handler", "挂起（待补充）"),
        Action("resume", ("suspended",), "handler", "恢复处置"),
        Action("resolve", ("in_progress",), "handler", "办结"),
        Action("return", HANDLING_STATES, "handler", "退回指挥中心"),
        Action("escalate", ("accepted", "dispatched", "in_progress"), "escalator", "上报上级"),
        Action("rate", ("resolved",), "rater", "反馈评价"),
        Action("split", ("accepted",), "coordinator", "拆分交办"),
        Action("urge", HANDLING_STATES, "coordinator", "督办"),
        Action("extend", ("accepted", "dispatched", "in_progress"), "coordinator", "延期"),
    )
}

_SNAPSHOT = sa.text("""
SELECT i.id, i.state, i.version, i.level, i.department_code, i.reporter_user_id, i.category_code,
       i.due_at, i.suspended_at, i.reported_at, i.parent_id, i.subtasks,
       g.code AS grid_code, c.code AS community_code, s.code AS street_code,
       cv.accept_hours, cv.dispatch_hours, cv.handle_hours, cat.department_code AS cat_department,
       d.level AS cat_department_level,
       (SELECT e.actor_user_id FROM incident_event e WHERE e.incident_id = i.id AND e.action = 'resolve'
        ORDER BY e.id DESC LIMIT 1) AS resolved_by
FROM incident i
LEFT JOIN grid g ON g.id = i.grid_id
LEFT JOIN community c ON c.id = i.community_id
LEFT JOIN street s ON s.id = i.street_id
JOIN category cat ON cat.code = i.category_code
-- the deadlines of the catalogue's version the incident was reported under (migration 0024)
JOIN category_version cv ON cv.category_code = i.category_code AND cv.version = i.category_version
JOIN department d ON d.code = cat.department_code
WHERE i.id = :id
""")
_WORKER_GRIDS = sa.text(
    "SELECT g.code FROM worker w JOIN worker_grid wg ON wg.worker_id = w.id JOIN grid g ON g.id = wg.grid_id "
    "WHERE w.user_id = :u AND w.active"
)


def snapshot(conn: sa.Connection, incident_id: int) -> sa.Row[Any]:
    """The incident's workflow-relevant fields; NotFound when it does not exist."""
    row = conn.execute(_SNAPSHOT, {"id": incident_id}).first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist", where="path.id")
    return row


def worker_grids(conn: sa.Connection, user: User) -> frozenset[str]:
    """Grid codes a grid-worker user is responsible for."""
    if user.role != "grid_worker":
        return frozenset()
    return frozenset(conn.execute(_WORKER_GRIDS, {"u": user.id}).scalars())


def _in_area(user: User, inc: sa.Row[Any]) -> bool:
    """Whether the incident lies in an officer's street or community."""
    code = user.jurisdiction_code or ""
    if user.role == "street_officer":
        return bool(inc.street_code) and inc.street_code.strip() == code
    if user.role == "community_officer":
        return bool(inc.community_code) and inc.community_code.strip() == code
    return False


def _is_coordinator(user: User, inc: sa.Row[Any]) -> bool:
    return user.role == "commander" or (user.role in COORDINATORS and _in_area(user, inc))


def _is_handler(user: User, inc: sa.Row[Any], grids: frozenset[str]) -> bool:
    """Whether the user is the current assignee at the incident's level."""
    if inc.level == "grid":
        return user.role == "grid_worker" and inc.grid_code in grids
    if inc.level == "community":
        return user.role == "community_officer" and _in_area(user, inc)
    if inc.level == "street":
        return user.role == "street_officer" and _in_area(user, inc)
    return user.role == "department_handler" and user.department_code == inc.department_code


def may(user: User, action: Action, inc: sa.Row[Any], grids: frozenset[str]) -> bool:
    """Whether `user` may take `action` on `inc`, state aside.

    A split parent is handled, pressed and timed through its sub-tasks (nobody acts on the
    parent but its rater), and only the parent is rated: its sub-tasks close with it.
    """
    if (inc.subtasks and action.who != "rater") or (inc.parent_id and action.who == "rater"):
        return False
    if action.who == "coordinator":
        return _is_coordinator(user, inc)
    if action.who == "handler":
        return _is_handler(user, inc, grids)
    if action.who == "escalator":
        return _is_coordinator(user, inc) or _is_handler(user, inc, grids)
    if inc.resolved_by is not None and inc.resolved_by == user.id:
        return False  # who resolved it does not rate their own work (满意率 would count it)
    return user.role == "commander" or (inc.reporter_user_id is not None and inc.reporter_user_id == user.id)


def allowed_actions(user: User, inc: sa.Row[Any], grids: frozenset[str]) -> list[str]:
    """The actions `user` may take on `inc` in its current state."""
    return [a.name for a in ACTIONS.values() if inc.state in a.sources and may(user, a, inc, grids)]


def district_department(inc: sa.Row[Any]) -> str:
    """Who handles the incident at district level."""
    return inc.cat_department if inc.cat_department_level == "district" else DISTRICT_FALLBACK_DEPARTMENT


def department_for(level: str, inc: sa.Row[Any]) -> str:
    """The handling department at `level`."""
    return LEVEL_OFFICE.get(level) or district_department(inc)


def handler_at(
    conn: sa.Connection, inc: sa.Row[Any], level: Any, department: Any, where: str
) -> tuple[str, str]:
    """The level and department a dispatch names (by default the incident's level and usual department)."""
    level = level or inc.level
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}", where=f"{where}.level")
    dept = department or department_for(level, inc)
    row = conn.execute(sa.text("SELECT level FROM department WHERE code = :d"), {"d": dept}).first()
    if row is None or row.level != level:
        raise InvalidInput(
            f"department {dept!r} does not handle at {level} level", where=f"{where}.department"
        )
    return level, dept


def split_parts(conn: sa.Connection, inc: sa.Row[Any], parts: Any) -> list[dict[str, str]]:
    """The sub-tasks a split asks for: 2 to MAX_SUBTASKS, each a level and department (and a note)."""
    if not isinstance(parts, list) or not 2 <= len(parts) <= MAX_SUBTASKS:
        raise InvalidInput(f"split into 2 to {MAX_SUBTASKS} parts", where="body.parts")
    out = []
    for k, part in enumerate(parts):
        if not isinstance(part, dict):
            raise InvalidInput("each part is an object with level and department", where=f"body.parts[{k}]")
        level, dept = handler_at(conn, inc, part.get("level"), part.get("department"), f"body.parts[{k}]")
        out.append({"level": level, "department": dept, "note": str(part.get("note") or "")[:500]})
    if len({(p["level"], p["department"]) for p in out}) < len(out):
        raise InvalidInput("two parts go to the same unit", where="body.parts")
    return out


def _hours(h: Any) -> timedelta:
    return timedelta(hours=float(h))


def plan(
    action: str, inc: sa.Row[Any], body: dict[str, Any], now: datetime, conn: sa.Connection
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The new state, the column changes and the timeline data of `action` on `inc`."""
    ch: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if action == "accept":
        ch.update(accepted_at=now, due_at=now + _hours(inc.dispatch_hours))
        return "accepted", ch, data
    if action in REASONED:
        if not (body.get("note") or "").strip():
            raise InvalidInput(f"a reason is required to {action} an incident", where="body.note")
    if action == "reject":
        ch.update(closed_at=now, due_at=None)
        return "rejected", ch, data
    if action == "merge":
        target = body.get("target_id")
        if not isinstance(target, int) or target == inc.id:
            raise InvalidInput("merge needs target_id: another incident's id", where="body.target_id")
        other = conn.execute(
            sa.text("SELECT state, category_code FROM incident WHERE id = :t"), {"t": target}
        ).first()
        if other is None or other.state not in UNFINISHED_STATES:
            raise InvalidInput(f"incident {target} is not an open incident", where="body.target_id")
        ch.update(merged_into=target, closed_at=now, due_at=None)
        data["target_id"] = target
        return "merged", ch, data
    if action == "dispatch":
        level, dept = handler_at(conn, inc, body.get("level"), body.get("department"), "body")
        ch.update(level=level, department_code=dept, dispatched_at=now, due_at=now + _hours(inc.handle_hours))
        return "dispatched", ch, data
    if action == "start":
        return "in_progress", ch, data
    if action == "suspend":
        ch.update(suspended_at=now)
        return "suspended", ch, data
    if action == "resume":
        paused = now - inc.suspended_at
        ch.update(suspended_at=None, due_at=(inc.due_at + paused) if inc.due_at else None)
        data["suspended_seconds"] = round(paused.total_seconds())
        return "in_progress", ch, data
    if action == "resolve":
        ch.update(resolved_at=now, due_at=None)
        return "resolved", ch, data
    if action == "return":  # 退回: not ours to handle; the centre sorts it again, on the dispatch clock
        ch.update(suspended_at=None, due_at=now + _hours(inc.dispatch_hours))
        data["returned_by"] = inc.department_code
        return "accepted", ch, data
    if action == "rate":
        rating = body.get("rating")
        if rating not in RATINGS:
            raise InvalidInput(f"rating must be one of {', '.join(RATINGS)}", where="body.rating")
        data["rating"] = rating
        if rating == "unsatisfied":
            ch.update(
                rating=rating,
                resolved_at=None,
                due_at=now + _hours(inc.handle_hours),
                reopened=sa.text("reopened + 1"),
            )
            return (
                ("in_progress" if inc.subtasks else "dispatched"),
                ch,
                data,
            )  # a split one: to its sub-tasks
        ch.update(rating=rating, closed_at=now, closed_level=inc.level)
        return "closed", ch, data
    if action == "urge":  # 督办: the centre presses the handler; the timeline and the feed carry it
        return inc.state, ch, data
    if action == "extend":  # 延期: a deadline moved, for a reason, on the record
        hours = body.get("hours")
        if not isinstance(hours, int) or not 1 <= hours <= MAX_EXTEND_HOURS:
            raise InvalidInput(
                f"hours must be a whole number from 1 to {MAX_EXTEND_HOURS}", where="body.hours"
            )
        ch.update(due_at=(inc.due_at or now) + timedelta(hours=hours))
        data["hours"] = hours
        return inc.state, ch, data
    if action == "split":  # 拆分: the sub-tasks are made once the parent has moved (subtasks.follow_up)
        parts = split_parts(conn, inc, body.get("parts"))
        ch.update(
            department_code=None,
            dispatched_at=now,
            due_at=now + _hours(inc.handle_hours),
            subtasks=len(parts),
        )
        data["parts"] = parts
        return "in_progress", ch, data
    if action == "escalate":
        i = LEVELS.index(inc.level)
        if i == len(LEVELS) - 1:
            raise Conflict(
                "the incident is already handled at district level",
                where="body.action",
                current_state=inc.state,
            )
        level = LEVELS[i + 1]
        stage_hours = {"reported": inc.accept_hours, "accepted": inc.dispatch_hours}.get(
            inc.state, inc.handle_hours
        )
        ch.update(
            level=level,
            department_code=department_for(level, inc),
            due_at=now + _hours(stage_hours),
            escalations=sa.text("escalations + 1"),
        )
        data.update(from_level=inc.level, to_level=level)
        # before dispatch the report keeps its stage; a handled one goes to the new handler
        return (inc.state if inc.state in UNSORTED_STATES else "dispatched"), ch, data
    raise InvalidInput(f"unknown action {action!r}", where="body.action")  # pragma: no cover


def transition(
    conn: sa.Connection,
    inc: sa.Row[Any],
    action: str,
    to_state: str,
    changes: dict[str, Any],
    data: dict[str, Any],
    actor_id: int | None,
    note: str,
    now: datetime,
    key: str | None = None,
) -> tuple[int, int]:
    """Apply a planned transition if nobody changed the incident meanwhile: (new version, timeline row id).

    `key`: the request's Idempotency-Key, kept on the timeline row so a retry is recognised.
    """
    params: dict[str, Any] = {"id": inc.id, "v": inc.version, "s": inc.state, "to": to_state, "now": now}
    sets = ["state = :to", "version = version + 1", "updated_at = :now"]
    for col, val in changes.items():
        if isinstance(val, sa.TextClause):
            sets.append(f"{col} = {val.text}")
        else:
            sets.append(f"{col} = :c_{col}")
            params[f"c_{col}"] = val
    row = conn.execute(
        sa.text(
            f"UPDATE incident SET {', '.join(sets)} "  # noqa: S608 - column names come from plan()
            "WHERE id = :id AND version = :v AND state = :s RETURNING version, level, department_code"
        ),
        params,
    ).first()
    if row is None:
        raise Conflict(
            "the incident changed since you read it; reload and retry",
            where="header.If-Match",
            current_state=conn.execute(
                sa.text("SELECT state FROM incident WHERE id = :i"), {"i": inc.id}
            ).scalar(),
        )
    event = conn.execute(
        sa.text(
            "INSERT INTO incident_event (incident_id, action, from_state, to_state, actor_user_id, at, note, "
            "level, department_code, data, idempotency_key) "
            "VALUES (:i, :a, :f, :t, :u, :at, :n, :l, :d, CAST(:data AS jsonb), :k) RETURNING id"
        ),
        {
            "i": inc.id,
            "a": action,
            "f": inc.state,
            "t": to_state,
            "u": actor_id,
            "at": now,
            "n": note,
            "l": row.level,
            "d": row.department_code,
            "data": json.dumps(data, ensure_ascii=False),
            "k": key,
        },
    ).scalar_one()
    return int(row.version), int(event)


def state_in(column: str, states: tuple[str, ...]) -> str:
    """SQL `column IN (...)` for a state group: how layers and indexes spell a group.

    The states are this module's constants, never input, so they are written as literals: a
    partial index's condition (migration 0013) must match a query's text for the planner.
    """
    assert set(states) <= set(STATES), states
    return f"{column} IN ({', '.join(repr(s) for s in states)})"

"""One vocabulary: each state group and role group is defined once, and every consumer agrees."""

from __future__ import annotations

import ast
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gis_core.incidents.workflow import (
    AWAITING_RATING_STATES,
    CLOSED_STATES,
    OPEN_STATES,
    STATES,
    UNFINISHED_STATES,
)
from gis_core.platform.auth import ROLES
from gis_core.platform.settings import PROJECT_ROOT

#: where the groups live; everything else takes them from here
HOMES = {
    PROJECT_ROOT / "gis_core" / "incidents" / "workflow.py",
    PROJECT_ROOT / "gis_core" / "platform" / "auth.py",
}
SOURCES = sorted(
    p for d in ("gis_core", "api", "layers") for p in (PROJECT_ROOT / d).rglob("*.py") if p not in HOMES
)
_ANY_STATE = "|".join(STATES)
_STATE_LIST_IN_SQL = re.compile(rf"'({_ANY_STATE})'\s*,\s*'({_ANY_STATE})'")


def _own_sets(path: Path) -> list[str]:
    """Literal tuples, lists or sets of two or more states or roles, and SQL lists of states."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            for vocab, kind in ((STATES, "states"), (ROLES, "roles")):
                if len({w for w in words if w in vocab}) >= 2:
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {kind} {words}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _STATE_LIST_IN_SQL.search(node.value)
        ):
            found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} SQL states")
    return found


def test_no_layer_router_or_query_spells_a_state_or_role_group_of_its_own():
    assert len(SOURCES) > 50
    offenders = [hit for path in SOURCES for hit in _own_sets(path)]
    assert not offenders, offenders


def test_no_page_spells_a_state_group_of_its_own():
    """The pages take 'open' from the server's answers (stats' open, the layer's rows)."""
    pages = sorted((PROJECT_ROOT / "web").rglob("*.js"))
    quoted = re.compile(rf"[\"']({_ANY_STATE})[\"']\s*,\s*[\"']({_ANY_STATE})[\"']")
    offenders = [
        f"{p.relative_to(PROJECT_ROOT)}" for p in pages if quoted.search(p.read_text(encoding="utf-8"))
    ]
    assert pages and not offenders, offenders


def test_the_groups_partition_the_states():
    assert set(UNFINISHED_STATES) == set(OPEN_STATES) | set(AWAITING_RATING_STATES)
    assert set(STATES) == set(UNFINISHED_STATES) | set(CLOSED_STATES)
    assert not set(OPEN_STATES) & set(AWAITING_RATING_STATES) and not set(UNFINISHED_STATES) & set(
        CLOSED_STATES
    )


def test_the_open_incidents_index_holds_the_layers_group(engine):
    """Migration 0013's partial index and the layer's condition cannot drift apart."""
    with engine.connect() as c:
        definition = c.execute(
            sa.text("SELECT pg_get_indexdef('incident_open_geom_gist'::regclass)")
        ).scalar()
    assert set(re.findall(r"'(\w+)'::text", definition)) == set(UNFINISHED_STATES), definition


def test_an_unknown_role_name_fails_at_import_not_by_letting_nobody_in():
    from api.deps import require_roles
    from gis_core.publishing.layers import Layer

    with pytest.raises(ValueError, match="comander"):
        require_roles("admin", "comander")
    with pytest.raises(ValueError, match="planer"):
        Layer(
            id="x",
            title_zh="x",
            title_en="x",
            table="grid",
            geometry_type="polygon",
            fields=(),
            roles=("planer",),
        )


@pytest.fixture
def one_of_each_state(engine, spot):
    """Nine incidents in the spot's grid, one in each state, removed afterwards."""
    lon, lat, grid_code = spot
    tag = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    with engine.begin() as c:
        ids = dict(
            c.execute(
                sa.text(
                    "INSERT INTO incident (code, category_code, source, state, level, department_code, reported_at, "
                    "  dispatched_at, grid_id, community_id, street_id, geom, updated_at) "
                    "SELECT 'V' || :tag || '-' || s.state, '0101', 'citizen', s.state, 'grid', 'grid_self', :now, "
                    "  CASE WHEN s.state NOT IN ('reported', 'accepted') THEN CAST(:now AS timestamptz) END, "
                    "  g.id, g.community_id, cm.street_id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :now "
                    "FROM unnest(CAST(:states AS text[])) AS s(state), grid g JOIN community cm ON cm.id = g.community_id "
                    "WHERE g.code = :g RETURNING state, id"
                ),
                {"tag": tag, "now": now, "lon": lon, "lat": lat, "g": grid_code, "states": list(STATES)},
            ).all()
        )
    yield ids, grid_code, now
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM incident WHERE id = ANY(:i)"), {"i": list(ids.values())})


def test_every_consumer_agrees_on_what_is_open(client, auth, engine, one_of_each_state, db_url):
    ids, grid_code, now = one_of_each_state
    mine = {v: k for k, v in ids.items()}
    h = auth("commander")

    # the wall's layer: the unfinished ones (open, and awaiting rating drawn apart)
    since = (now - timedelta(minutes=1)).isoformat()
    items = client.get(
        "/collections/incidents_open/items", params={"limit": 1000, "datetime": f"{since}/.."}, headers=h
    ).json()["features"]
    on_wall = {f["properties"]["state"] for f in items if f["id"] in mine}
    assert on_wall == set(UNFINISHED_STATES)

    def open_before(level: str, code: str) -> int:
        """Open incidents of the unit other than the nine, counted from the table."""
        col = {"grid": "grid_id", "community": "community_id"}[level]
        with engine.connect() as c:
            return c.execute(
                sa.text(
                    f"SELECT count(*) FROM incident i JOIN {level} u ON u.id = i.{col} "  # noqa: S608
                    "WHERE u.code = :u AND i.state = ANY(:open) AND NOT (i.id = ANY(:mine))"
                ),
                {"u": code, "open": list(OPEN_STATES), "mine": list(mine)},
            ).scalar()

    # the per-grid load layer: the open ones
    load = client.get("/collections/grid_load/items?limit=2000", headers=h).json()["features"]
    (cell,) = [f for f in load if f["properties"]["code"] == grid_code]
    before = open_before("grid", grid_code)
    assert cell["properties"]["open_incidents"] == before + len(OPEN_STATES)

    # the stats of the grid: its own, and (issue 18 item 12) the joint ones shared across its edges
    with engine.connect() as c:
        joint = c.execute(
            sa.text(
                "SELECT count(*) FROM incident i, grid g WHERE g.code = :g AND g.id = ANY(i.shared_grid_ids) "
                "AND i.state = ANY(:open) AND NOT (i.id = ANY(:mine))"
            ),
            {"g": grid_code, "open": list(OPEN_STATES), "mine": list(mine)},
        ).scalar()
    stats = client.get("/api/v1/incidents/stats", params={"area": grid_code}, headers=h).json()
    assert stats["open"] == before + joint + len(OPEN_STATES)
    assert stats["open"] == sum(stats["by_state"].get(s, 0) for s in OPEN_STATES)
    assert stats["awaiting_rating"] == sum(stats["by_state"].get(s, 0) for s in AWAITING_RATING_STATES)

    # the tour's summary of the grid's community
    community = grid_code[:12]
    tour = client.get(
        "/api/v1/patrol/tour", params={"level": "community", "at": now.isoformat()}, headers=h
    ).json()
    (stop,) = [s for s in tour["stops"] if s["code"] == community]
    assert stop["summary"]["open_incidents"] == open_before("community", community) + len(OPEN_STATES)

    # Open311: open until it is finished (a resolved report still awaits its reporter)
    for state, incident_id in ids.items():
        r = client.get(f"/open311/v2/requests/{incident_id}.json", headers=h).json()
        assert r[0]["status"] == ("closed" if state in CLOSED_STATES else "open"), state

    # the notebooks' frames
    from gis_core.analysis.frames import OneGrid

    a, b = now - timedelta(minutes=1), now + timedelta(minutes=1)
    frame = OneGrid.database(db_url, username="commander").grids(since=a.isoformat(), until=b.isoformat())
    with engine.connect() as c:  # other tests' reports of the same minute in the same grid
        others = c.execute(
            sa.text(
                "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id WHERE g.code = :g "
                "AND i.state = ANY(:open) AND i.reported_at >= :a AND i.reported_at < :b AND NOT (i.id = ANY(:mine))"
            ),
            {"g": grid_code, "open": list(OPEN_STATES), "a": a, "b": b, "mine": list(mine)},
        ).scalar()
    assert int(frame.loc[frame["code"] == grid_code, "open"].iloc[0]) == others + len(OPEN_STATES)

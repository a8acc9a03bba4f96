"""The whole loop through its four ends, in real headless Chromium, five people at once.

A resident opens a grid worker's QR link and reports with a photo; the dispatcher's console
shows it within 2 s, merges a planted duplicate into it, accepts it and splits it for the
urban-management department and the community; each desk sees only its own part, handles it
with a photo and resolves it; the report is resolved only after both; the resident rates it
不满意, it goes back to both, is resolved again and rated 满意, and closes. The wall sees every
step live; the timeline holds every step and cannot be rewritten.
"""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from tests.browser import ARTIFACTS, axe_violations, browser_contexts, new_context, sign_in
from tests.live import live_server
from tests.photos import jpeg

DESK = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
PHOTO = {"name": "处置后.jpg", "mimeType": "image/jpeg", "buffer": jpeg(color=(30, 160, 60))}


def _worker_of(engine, grid):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT w.code FROM worker w JOIN worker_grid wg ON wg.worker_id = w.id JOIN grid g ON g.id = wg.grid_id "
                "WHERE g.code = :g AND w.active AND w.code NOT LIKE 'GW-%' ORDER BY w.code LIMIT 1"
            ),
            {"g": grid},
        ).scalar_one()


def _row(engine, sql, **params):
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).first()


def _desk_resolve(page, incident_id):
    """A desk takes a part on and resolves it with a photo of the work done."""
    page.click("#inbox-pane .filter[data-states='dispatched,in_progress,suspended']")
    page.wait_for_selector(f"#inbox li[data-id='{incident_id}']")
    page.click(f"#inbox li[data-id='{incident_id}'] button")
    page.wait_for_selector("#actions button[data-action=start]")
    page.click("#actions button[data-action=start]")
    page.wait_for_selector("#actions button[data-action=resolve]")
    page.fill("#note", "已现场处置完毕")
    page.set_input_files("#act-photos", files=[PHOTO])
    page.click("#actions button[data-action=resolve]")
    page.wait_for_function(f"!document.querySelector(\"#inbox li[data-id='{incident_id}']\")")


def test_the_whole_loop_through_the_four_ends(settings, engine, client, auth, spot):
    lon, lat, grid = spot
    worker = _worker_of(engine, grid)
    tag = uuid.uuid4().hex[:6]
    planted = client.post(
        "/api/v1/incidents",
        data={"category": "0101", "lon": lon, "lat": lat, "description": f"门口垃圾（先报）{tag}"},
        headers={**auth("gridworker"), "Idempotency-Key": str(uuid.uuid4())},
    ).json()["id"]
    errors: list[str] = []
    phone = {
        "viewport": PHONE,
        "geolocation": {"longitude": lon, "latitude": lat},
        "permissions": ["geolocation"],
    }
    with live_server(settings, workers=2) as base, browser_contexts(5, base_url=base, viewport=DESK) as ctxs:
        citizen_ctx, console_ctx, handler_ctx, community_ctx, wall_ctx = ctxs
        console = sign_in(
            console_ctx, "/console", "commander", errors, "window.con && window.con.loaded === true"
        )
        handler = sign_in(
            handler_ctx, "/desk", "handler", errors, "window.desk && window.desk.loaded === true"
        )
        community = sign_in(
            community_ctx, "/desk", "community", errors, "window.desk && window.desk.loaded === true"
        )
        wall = sign_in(wall_ctx, "/wall", "commander", errors, "window.wall && window.wall.loaded === true")
        citizen_ctx.close()
        citizen_ctx = new_context(console_ctx.browser, base_url=base, **phone)
        me = citizen_ctx.new_page()
        me.on("pageerror", lambda e: errors.append(f"citizen: {e}"))
        me.goto(f"/me?worker={worker}")  # what the worker's service card's QR code opens
        me.fill("input[name=username]", "citizen")
        me.fill("input[name=password]", "onegrid-demo")
        me.click("#login-form button")
        me.wait_for_function("document.querySelectorAll('#category option').length > 40")
        me.wait_for_function("document.querySelector('#where').textContent.includes('当前位置')")
        me.select_option("#category", "0101")
        me.fill("#description", f"小区门口垃圾堆积 {tag}")
        me.set_input_files(
            "#photos", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
        )
        clicked = me.evaluate("Date.now()")
        me.click("#submit")
        deadline = time.monotonic() + 10
        while (
            row := _row(
                engine, "SELECT id, code FROM incident WHERE description = :d", d=f"小区门口垃圾堆积 {tag}"
            )
        ) is None:
            assert time.monotonic() < deadline, "the report was not stored"
            time.sleep(0.05)
        parent, code = row
        console.wait_for_selector(f"#queue li[data-id='{parent}']", timeout=5000)
        seen = console.evaluate("Date.now()")
        assert seen - clicked <= 2000, f"on the console {seen - clicked} ms after the resident sent it"

        # the console: the duplicate side by side, merged into this one; accepted; split for two units
        console.click(f"#queue li[data-id='{parent}'] button")
        console.wait_for_selector(f"#d-duplicates .dup[data-id='{planted}'] button:not([disabled])")
        console.wait_for_function(
            "document.querySelector('#d-photos img') && document.querySelector('#d-photos img').naturalWidth > 0"
        )
        console.screenshot(path=str(ARTIFACTS / "console-report.png"))
        assert axe_violations(console) == []
        console.click(f"#d-duplicates .dup[data-id='{planted}'] button")
        console.wait_for_selector(f"#d-duplicates .dup[data-id='{planted}'] button[disabled]")
        assert _row(engine, "SELECT state, merged_into FROM incident WHERE id = :i", i=planted) == (
            "merged",
            parent,
        )
        console.keyboard.press("a")  # 受理, from the keyboard
        console.wait_for_function("document.querySelector('#d-state').textContent === '已受理'")
        console.keyboard.press("s")  # 拆分
        console.wait_for_selector("#split-parts:not([hidden])")
        parts = console.locator("#parts li")
        parts.nth(0).locator(".p-note").fill("社区组织清运")
        parts.nth(1).locator(".p-dept").select_option("urban_mgmt")
        parts.nth(1).locator(".p-note").fill("城管执法查处乱倒")
        console.screenshot(path=str(ARTIFACTS / "console-split.png"))
        assert axe_violations(console) == []
        console.click("#do-split")
        console.wait_for_selector("#d-children li >> nth=1")
        kids = [
            r.id for r in _rows(engine, "SELECT id FROM incident WHERE parent_id = :p ORDER BY id", p=parent)
        ]
        community_part, city_part = kids

        # each desk sees its own part only, handles it with a photo; the report waits for both
        handler.wait_for_selector(f"#inbox li[data-id='{city_part}']", timeout=25_000)
        assert handler.locator(f"#inbox li[data-id='{community_part}']").count() == 0
        community.wait_for_selector(f"#inbox li[data-id='{community_part}']", timeout=25_000)
        assert community.locator(f"#inbox li[data-id='{city_part}']").count() == 0
        _desk_resolve(handler, city_part)
        assert _row(engine, "SELECT state FROM incident WHERE id = :i", i=parent).state == "in_progress"
        _desk_resolve(community, community_part)
        assert _row(engine, "SELECT state FROM incident WHERE id = :i", i=parent).state == "resolved"
        photos = _row(
            engine,
            "SELECT count(*) FROM incident_photo WHERE incident_id = :i AND event_id IS NOT NULL",
            i=city_part,
        )
        assert photos[0] == 1

        # the resident: 不满意 sends it back to both; resolved again; 满意 closes it all
        item = f"#requests li[data-id='{parent}']"
        me.reload()
        me.click(f"{item} > button")
        me.click(f"{item} .rate button[data-rating=unsatisfied]")
        me.wait_for_function(f'!document.querySelector("{item} .rate")')
        assert {
            r.state for r in _rows(engine, "SELECT state FROM incident WHERE parent_id = :p", p=parent)
        } == {"dispatched"}
        _desk_resolve(handler, city_part)
        _desk_resolve(community, community_part)
        me.reload()
        me.click(f"{item} > button")
        me.click(f"{item} .rate button[data-rating=satisfied]")
        me.wait_for_selector(f"{item} .done")
        me.screenshot(path=str(ARTIFACTS / "loop-me-closed.png"), full_page=True)
        assert _row(engine, "SELECT state, rating FROM incident WHERE id = :i", i=parent) == (
            "closed",
            "satisfied",
        )
        assert {
            r.state for r in _rows(engine, "SELECT state FROM incident WHERE parent_id = :p", p=parent)
        } == {"closed"}

        # the wall saw each step of the report as it happened
        wall.wait_for_function(
            f"window.wall.changes.filter((c) => c.id === {parent} && c.state === 'closed').length === 1"
        )
        steps = wall.evaluate(
            f"window.wall.changes.filter((c) => c.id === {parent}).map((c) => c.state).reverse()"
        )
        assert steps == ["accepted", "in_progress", "resolved", "in_progress", "resolved", "closed"]
        assert wall.locator(f"#events li[data-id='{parent}']").count() >= 6
        wall.screenshot(path=str(ARTIFACTS / "loop-wall.png"))
        console.screenshot(path=str(ARTIFACTS / "console-closed.png"))
    assert errors == []
    timeline = [
        r.action
        for r in _rows(
            engine, "SELECT action FROM incident_event WHERE incident_id = :i ORDER BY id", i=parent
        )
    ]
    assert timeline == ["report", "accept", "split", "subtasks_resolved", "rate", "subtasks_resolved", "rate"]
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as c:  # append-only
        c.execute(sa.text("UPDATE incident_event SET note = 'x' WHERE incident_id = :i"), {"i": parent})


def _rows(engine, sql, **params):
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).all()


def test_the_console_is_the_centres_and_officers_not_a_residents(settings, client, auth, spot, engine):
    """A resident's token opens no console data; the page says so and shows no queue."""
    for user in ("citizen", "gridworker"):  # one report of the resident's own, one of somebody else's
        r = client.post(
            "/api/v1/incidents",
            data={"category": "0301", "lon": spot[0], "lat": spot[1]},
            headers={**auth(user), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
    errors: list[str] = []
    with live_server(settings) as base, browser_contexts(1, base_url=base, viewport=DESK) as (ctx,):
        page = ctx.new_page()
        page.goto("/console")
        page.fill("input[name=username]", "citizen")
        page.fill("input[name=password]", "onegrid-demo")
        page.click("#login-form button")
        page.wait_for_function("document.querySelector('#login-error').textContent.includes('无调度权限')")
        assert page.is_visible("#login-view") and not page.is_visible("#console-view")
    assert errors == []
    mine = client.get("/api/v1/incidents?state=reported,accepted&limit=1000", headers=auth("citizen")).json()
    me = client.get("/api/v1/auth/me", headers=auth("citizen")).json()
    ids = [f["id"] for f in mine["features"]]
    reporters = {
        r.reporter_user_id
        for r in _rows(engine, "SELECT reporter_user_id FROM incident WHERE id = ANY(:i)", i=ids)
    }
    assert ids and reporters == {me["id"]}  # the resident's own reports, and nobody else's
    with_all = client.get(
        "/api/v1/incidents?state=reported,accepted&limit=1000", headers=auth("commander")
    ).json()
    assert len(mine["features"]) < len(with_all["features"])
    assert (
        client.get("/api/v1/incidents/stats", headers=auth("citizen")).json()["total"]
        < client.get("/api/v1/incidents/stats", headers=auth("commander")).json()["total"]
    )


def test_the_console_suggests_the_catalogues_level_and_department(settings, client, auth, spot):
    """交办: an item handled by a district department is offered to that department, not the first one listed."""
    items = [it for m in client.get("/api/v1/categories").json() for it in m["items"]]
    first = min(d["code"] for d in client.get("/api/v1/departments").json() if d["level"] == "district")
    item = next(
        it for it in items if it["handling_level"] == "district" and it["department"]["code"] != first
    )
    r = client.post(
        "/api/v1/incidents",
        data={"category": item["code"], "lon": spot[0], "lat": spot[1]},
        headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
    )
    i = r.json()["id"]
    errors: list[str] = []
    with live_server(settings) as base, browser_contexts(1, base_url=base, viewport=DESK) as (ctx,):
        console = sign_in(ctx, "/console", "commander", errors, "window.con && window.con.loaded === true")
        console.wait_for_selector(f"#queue li[data-id='{i}']")
        console.click(f"#queue li[data-id='{i}'] button")
        console.wait_for_function(f"window.con.incident && window.con.incident.id === {i}")
        assert console.input_value("#level") == "district"
        assert console.input_value("#department") == item["department"]["code"]
    assert errors == []

"""网格员 app in the field, in real headless Chromium: point-calls, no signal, and a patrol walk.

Playwright's geolocation is the phone's GPS: the worker walks by moving it, a few metres a
second (the server refuses faster jumps), and the app uploads the fixes it gets from
`watchPosition` as a phone does (`?batch=3`: every 3 s instead of 30, so a test need not wait).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from pyproj import Geod

from tests.browser import ARTIFACTS, axe_violations, browser_contexts, sign_in
from tests.live import live_server
from tests.photos import jpeg

GEOD = Geod(ellps="WGS84")
PHONE = {"width": 390, "height": 844}
READY = "window.app && window.app.ready === true && window.app.feed && window.app.feed.readyState === 1"


def at(lon, lat, bearing, metres):
    x, y, _ = GEOD.fwd(lon, lat, bearing, metres)
    return x, y


def phone(lon, lat):
    return {
        "viewport": PHONE,
        "is_mobile": True,
        "has_touch": True,
        "geolocation": {"longitude": lon, "latitude": lat, "accuracy": 5},
        "permissions": ["geolocation"],
    }


def walk(ctx, points, step_m=8.0, pause_s=1.2):
    """Move the phone's position along `points` (lon, lat) in steps of `step_m`, ~7 m/s."""
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        _, _, d = GEOD.inv(x0, y0, x1, y1)
        n = max(1, int(d // step_m))
        for x, y in [*GEOD.npts(x0, y0, x1, y1, n - 1), (x1, y1)]:
            ctx.set_geolocation({"longitude": x, "latitude": y, "accuracy": 5})
            time.sleep(pause_s)


def on_duty(base, user, lon, lat):
    """A worker's first fixes (their phone was on patrol before the test looks)."""
    tok = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": "onegrid-demo"}).json()[
        "access_token"
    ]
    now = datetime.now(UTC).replace(microsecond=0)
    fixes = [
        {"t": (now - timedelta(seconds=20 * k)).isoformat(), "lon": lon, "lat": lat, "accuracy": 5}
        for k in (2, 1)
    ]
    r = httpx.post(f"{base}/api/v1/tracks", json={"fixes": fixes}, headers={"Authorization": f"Bearer {tok}"})
    assert r.json()["stored"] == 2, r.text


def test_a_point_call_rings_two_phones_and_the_walk_there_is_its_arrival(
    settings, engine, spot, fresh_worker
):
    lon, lat, _ = spot
    (a, a_id), (b, b_id) = fresh_worker(name="甲网格员"), fresh_worker(name="乙网格员")
    a_at, b_at = at(lon, lat, 45, 140), at(lon, lat, 225, 180)
    errors: list[str] = []
    with live_server(settings) as base, browser_contexts(3, base_url=base) as (wall_ctx, a_ctx, b_ctx):
        on_duty(base, a, *a_at)
        on_duty(base, b, *b_at)
        for ctx, (x, y) in ((a_ctx, a_at), (b_ctx, b_at)):
            ctx.set_geolocation({"longitude": x, "latitude": y, "accuracy": 5})
            ctx.grant_permissions(["geolocation"])
        pa = sign_in(a_ctx, "/app/?batch=3", a, errors, READY)
        pb = sign_in(b_ctx, "/app/?batch=3", b, errors, READY)
        for p in (pa, pb):
            p.set_viewport_size(PHONE)
        wall = sign_in(wall_ctx, "/wall", "commander", errors, "window.wall && window.wall.loaded === true")
        wall.set_viewport_size({"width": 1920, "height": 1080})
        wall.evaluate("([x, y]) => wall.map.jumpTo({center: [x, y], zoom: 16})", [lon, lat])
        wall.wait_for_function("!wall.map.isMoving()")
        xy = wall.evaluate(
            "([x, y]) => { const p = wall.map.project([x, y]); const r = wall.map.getCanvas().getBoundingClientRect();"
            " return [r.left + p.x, r.top + p.y]; }",
            [lon, lat],
        )
        wall.click("#call-pick")
        wall.mouse.click(*xy)
        for w in (a_id, b_id):
            wall.wait_for_selector(f"#call-workers input[value='{w}']")
        for box in wall.locator("#call-workers input").all():  # these two, nobody else
            if int(box.get_attribute("value")) not in (a_id, b_id):
                box.uncheck()
        wall.fill("#call-message", "河堤巡查点集合")
        sent = wall.evaluate("Date.now()")
        wall.click("#call-send")
        for p in (pa, pb):
            p.wait_for_selector("#ring:not([hidden])", timeout=5000)
            assert p.evaluate("Date.now()") - sent <= 2000  # both ring within 2 s
            assert p.text_content("#ring-message") == "河堤巡查点集合"
        pa.wait_for_function("document.querySelector('#ring-place').textContent.includes('网格')")
        pa.screenshot(path=str(ARTIFACTS / "app-ring.png"))
        assert axe_violations(pa) == []
        pb.click("#ring-later")

        pa.click("#ring-accept")  # 接受: acknowledged, the route drawn with its ETA, patrol on
        call_id = wall.evaluate("wall.call.call.id")
        wall.wait_for_selector(
            f"#call-tasks li[data-worker='{a_id}'][data-state='acknowledged']", timeout=5000
        )
        pa.wait_for_function("document.querySelector('#route-banner').textContent.includes('预计')")
        pa.wait_for_function("window.app.mapReady && window.app.maps.home.routed === true")
        route = pa.evaluate("window.app.route")
        assert route["geometry"]["type"] == "LineString" and route["properties"]["walk_s"] > 0
        pa.screenshot(path=str(ARTIFACTS / "app-route.png"))

        walk(a_ctx, [tuple(c) for c in route["geometry"]["coordinates"]])
        wall.wait_for_selector(f"#call-tasks li[data-worker='{a_id}'][data-state='arrived']", timeout=20_000)
        pa.wait_for_function(
            "document.querySelector('#route-banner').textContent === '已到达点调地点'", timeout=10_000
        )
        wall.screenshot(path=str(ARTIFACTS / "wall-call-arrived.png"))
        pa.screenshot(path=str(ARTIFACTS / "app-arrived.png"))
    assert errors == []
    with engine.connect() as c:
        tasks = dict(
            c.execute(
                sa.text("SELECT worker_id, arrived_at IS NOT NULL FROM point_call_task WHERE call_id = :c"),
                {"c": call_id},
            ).all()
        )
    assert tasks == {a_id: True, b_id: False}


def _dispatched_to_grid(client, auth, spot, text):
    r = client.post(
        "/api/v1/incidents",
        data={"category": "0101", "lon": spot[0], "lat": spot[1], "description": text},
        headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
    )
    i = r.json()["id"]
    for body in ({"action": "accept", "version": 1}, {"action": "dispatch", "version": 2, "level": "grid"}):
        assert (
            client.post(f"/api/v1/incidents/{i}/actions", json=body, headers=auth("commander")).status_code
            == 200
        )
    return i


def test_offline_work_is_sent_once_and_in_order_when_the_signal_returns(
    settings, engine, client, auth, spot, fresh_worker, plant_key_point
):
    """No signal: a report with a photo, two task actions, five minutes of fixes and a check-in; then online.

    The phone's clock is Playwright's: it starts seven minutes behind and the five minutes of
    walking pass in seconds (`clock.run_for`), each fix dated by it, at a walker's pace.
    """
    lon, lat, _ = spot
    user, worker = fresh_worker(name="丙网格员")
    mine, contested = (
        _dispatched_to_grid(client, auth, spot, "离线任务一"),
        _dispatched_to_grid(client, auth, spot, "离线任务二"),
    )
    start = at(lon, lat, 90, 60)
    point = plant_key_point(*at(lon, lat, 90, 5), name="离线测试点")
    errors: list[str] = []
    with live_server(settings) as base, browser_contexts(1, base_url=base, **phone(*start)) as (ctx,):
        ctx.clock.install(time=datetime.now(UTC) - timedelta(minutes=7))
        page = sign_in(ctx, "/app/?batch=60", user, errors, READY)
        page.click("#tabs button[data-go=patrol]")
        page.click("#patrol-toggle")  # 开始巡查
        page.click("#tabs button[data-go=tasks]")
        for i in (mine, contested):
            page.wait_for_selector(f"#task-list li:has-text('{_code(engine, i)}')")
        ctx.set_offline(True)
        page.wait_for_function("document.querySelector('#net').textContent.startsWith('离线')")

        # 1. a report with a photo
        page.click("#tabs button[data-go=report]")
        page.select_option("#category", "0101")
        page.fill("#r-description", "离线上报：路灯不亮")
        page.set_input_files(
            "#r-photos", files=[{"name": "路灯.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
        )
        page.click("#report-form button[type=submit]")
        page.wait_for_function("document.querySelector('#r-done').textContent.includes('联网后')")
        # 2. two task actions: one on each task (the second will have been taken by somebody else)
        for i in (mine, contested):
            page.click("#tabs button[data-go=tasks]")
            page.click(f"#task-list li:has-text('{_code(engine, i)}') button")
            page.wait_for_selector("#t-actions button[data-action=start]")
            page.click("#t-actions button[data-action=start]")
            page.wait_for_selector("#t-actions button[data-action=resolve]")  # shown at once, offline
        # 3. a walk, every fix kept on the phone; 4. a check-in at the point walked to
        page.click("#tabs button[data-go=patrol]")
        there = at(lon, lat, 90, 5)
        legs = [start, there, start, there]  # to the point and back, twice: ~165 m in 5 minutes
        for k in range(31):  # a fix every 10 s of the phone's time
            f = k / 30 * (len(legs) - 1)
            a, b = legs[min(int(f), len(legs) - 2)], legs[min(int(f), len(legs) - 2) + 1]
            x, y = [p + (q - p) * (f - min(int(f), len(legs) - 2)) for p, q in zip(a, b, strict=True)]
            ctx.set_geolocation({"longitude": x, "latitude": y, "accuracy": 5})
            page.wait_for_timeout(150)  # the position reaches watchPosition
            page.clock.run_for(10_000)
        page.click(f"button[data-code='{point}']")
        page.wait_for_function("document.querySelector('#net').textContent.includes('待发送')")
        page.screenshot(path=str(ARTIFACTS / "app-offline.png"), full_page=True)
        queued = page.evaluate("(async () => (await window.app.outbox.items()).map((i) => i.kind))()")
        assert queued[0] == "report" and queued[1:3] == ["action", "action"] and queued[-1] == "check-in"
        assert set(queued[3:-1]) == {"track"}
        with engine.connect() as c:  # nothing of it reached the server
            assert (
                c.execute(
                    sa.text("SELECT count(*) FROM incident WHERE description = '离线上报：路灯不亮'")
                ).scalar()
                == 0
            )

        # meanwhile the grid's other worker, with signal, takes the second task on
        version = client.get(f"/api/v1/incidents/{contested}", headers=auth("gridworker")).json()[
            "properties"
        ]["version"]
        r = client.post(
            f"/api/v1/incidents/{contested}/actions",
            json={"action": "start", "version": version},
            headers=auth("gridworker"),
        )
        assert r.status_code == 200, r.text

        ctx.set_offline(False)
        page.wait_for_function(
            "!document.querySelector('#net').textContent.includes('待发送')", timeout=30_000
        )
        page.click("#tabs button[data-go=tasks]")
        page.wait_for_selector("#outbox-list li.failed")
        assert "未能发送" in page.text_content("#outbox-list li.failed")
        page.click(f"#task-list li:has-text('{_code(engine, contested)}') button")
        page.wait_for_function("document.querySelector('#t-error').textContent.includes('已被他人处理')")
        assert "处置中" in page.text_content("#t-error")  # the 409, in words, with the task's state now
        page.screenshot(path=str(ARTIFACTS / "app-conflict.png"), full_page=True)
        # a second go online changes nothing: each was sent once
        page.evaluate("(async () => window.app.outbox.flush())()")
    # the browser's own line for each request it could not make without a network (the live feed
    # reconnecting, the map's tiles; ERR_FAILED when the service worker's fetch is the one that
    # failed) is not the app's error; nor is the one 409 it was told
    offline = ("net::ERR_INTERNET_DISCONNECTED", "net::ERR_FAILED", "status of 409")
    assert [e for e in errors if not any(o in e for o in offline)] == []
    with engine.connect() as c:
        reports = c.execute(
            sa.text("SELECT id, reported_at FROM incident WHERE description = '离线上报：路灯不亮'")
        ).all()
        assert len(reports) == 1
        photos = c.execute(
            sa.text("SELECT count(*) FROM incident_photo WHERE incident_id = :i"), {"i": reports[0].id}
        ).scalar()
        starts = c.execute(
            sa.text(
                "SELECT e.incident_id, e.at FROM incident_event e JOIN app_user u ON u.id = e.actor_user_id "
                "WHERE e.action = 'start' AND e.incident_id = ANY(:i) AND u.username = :u"
            ),
            {"i": [mine, contested], "u": user},  # the app's: the other worker's start is theirs
        ).all()
        check_ins = c.execute(
            sa.text(
                "SELECT c.at FROM key_point_check_in c JOIN key_point k ON k.id = c.key_point_id WHERE k.code = :p"
            ),
            {"p": point},
        ).all()
        fixes = c.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT recorded_at), extract(epoch FROM max(recorded_at) - min(recorded_at)) "
                "FROM track_point WHERE worker_id = :w"
            ),
            {"w": worker},
        ).one()
        state = c.execute(sa.text("SELECT state FROM incident WHERE id = :i"), {"i": mine}).scalar()
    assert photos == 1 and len(starts) == 1 and starts[0].incident_id == mine and state == "in_progress"
    assert len(check_ins) == 1 and fixes[0] == fixes[1] >= 30  # each fix once
    assert fixes[2] >= 295  # five minutes of walking
    assert reports[0].reported_at < starts[0].at < check_ins[0].at  # in the order they were made


def _code(engine, incident_id):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT code FROM incident WHERE id = :i"), {"i": incident_id}).scalar()


def _unpatrolled(engine, codes):
    with engine.connect() as c:
        return set(
            c.execute(
                sa.text(
                    "SELECT cause_key FROM warning WHERE rule = 'key_point_unpatrolled' AND state <> 'cleared' "
                    "AND cause_key = ANY(:k)"
                ),
                {"k": [f"key_point:{k}" for k in codes]},
            ).scalars()
        )


def test_a_patrol_walk_with_three_check_ins_clears_their_warnings_and_adds_up(
    settings, engine, client, auth, spot, fresh_worker, plant_key_point
):
    # a grid no other test walks in: a key point counts as patrolled by anyone's fix within 50 m
    with engine.connect() as c:
        lon, lat, grid = c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p), code FROM (SELECT ST_PointOnSurface(ST_Buffer(geom, -0.0004)) p, code "
                "FROM grid WHERE code > :g ORDER BY code LIMIT 1) s"
            ),
            {"g": spot[2]},
        ).one()
    user, worker = fresh_worker(grid_code=grid, name="丁网格员")
    stops = [at(lon, lat, 0, 30), at(lon, lat, 120, 30), at(lon, lat, 240, 30)]
    codes = [plant_key_point(x, y, name=f"巡查点{k + 1}") for k, (x, y) in enumerate(stops)]
    assert client.post("/api/v1/warnings/check", headers=auth()).status_code == 200
    assert _unpatrolled(engine, codes) == {f"key_point:{k}" for k in codes}  # never patrolled: warned
    errors: list[str] = []
    start = at(lon, lat, 180, 40)
    with live_server(settings) as base, browser_contexts(1, base_url=base, **phone(*start)) as (ctx,):
        page = sign_in(ctx, "/app/?batch=3", user, errors, READY)
        page.click("#tabs button[data-go=patrol]")
        page.click("#patrol-toggle")
        assert page.text_content("#patrol-toggle") == "结束巡查"
        here = start
        for code, stop in zip(codes, stops, strict=True):
            walk(ctx, [here, stop])
            here = stop
            page.click(f"button[data-code='{code}']")
            page.wait_for_function(
                f"window.app.field.key_points.find((k) => k.code === '{code}').checked_in_at !== null",
                timeout=15_000,
            )
        page.screenshot(path=str(ARTIFACTS / "app-patrol.png"), full_page=True)
        assert axe_violations(page) == []
        page.click("#patrol-toggle")  # 结束巡查: the last fixes go up
        page.wait_for_function("!document.querySelector('#net').textContent.includes('待发送')")
        page.click("#tabs button[data-go=home]")
        page.wait_for_function("window.app.field.key_points_checked_today === 3")
        # "today" as the phone reckons it: midnight in the district's (and the phone's) zone
        midnight = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0, microsecond=0)
        page.wait_for_timeout(500)
        shown = (
            page.text_content("#f-distance"),
            page.text_content("#f-inside"),
            page.text_content("#f-checked"),
        )
        page.screenshot(path=str(ARTIFACTS / "app-home-after-patrol.png"))
    assert errors == []
    assert client.post("/api/v1/warnings/check", headers=auth()).status_code == 200
    assert _unpatrolled(engine, codes) == set()  # walked and checked in: cleared
    tok = {
        "Authorization": f"Bearer {client.post('/api/v1/auth/token', data={'username': user, 'password': 'onegrid-demo'}).json()['access_token']}"
    }
    t = client.get(
        f"/api/v1/workers/{worker}/trajectory", params={"from": midnight.isoformat()}, headers=tok
    ).json()["properties"]
    assert t["fixes"] >= 10 and t["distance_m"] > 100
    assert shown == (f"{round(t['distance_m'])} 米", f"{round(t['inside_own_grid_s'] / 60)} 分钟", "3")

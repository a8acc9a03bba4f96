"""The 随手拍 phone page in real headless Chromium: offline queue, lost response, exactly-once storage."""

import sqlalchemy as sa

from tests.browser import ARTIFACTS, axe_violations, browser_context
from tests.live import live_server
from tests.photos import jpeg


def test_report_survives_offline_and_a_lost_response(settings, engine, tmp_path, spot):
    lon, lat, grid = spot
    with engine.connect() as c:
        before = c.execute(sa.text("SELECT count(*) FROM incident")).scalar()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(2400, 1800))  # shrunk to 1600 px on the phone before it is queued
    errors = []
    with (
        live_server(settings) as base,
        browser_context(
            geolocation={"longitude": lon, "latitude": lat, "accuracy": 8},
            permissions=["geolocation"],
            viewport={"width": 390, "height": 844},
            locale="zh-CN",
            base_url=base,
        ) as ctx,
    ):
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("/report")
        page.fill("input[name=username]", "gridworker")
        page.fill("input[name=password]", "onegrid-demo")
        page.click("#login-form button")
        page.wait_for_selector("#report-view:not([hidden])")
        page.wait_for_function("document.querySelectorAll('#category option').length > 40")
        page.wait_for_function("document.getElementById('location').textContent.includes('位置')")

        # 1. the network is gone: the report waits on the phone
        ctx.set_offline(True)
        page.select_option("#category", "0101")
        page.set_input_files("#photos", str(photo))
        page.fill("#description", "小区门口垃圾堆放")
        page.click("#submit")
        page.wait_for_selector("#outbox li.pending")
        assert page.text_content("#net") == "离线"
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM incident")).scalar() == before

        # 2. back online, but the server's answer to the first attempt is lost on the way back
        dropped = []

        def lose_first_answer(route):
            if route.request.method == "POST" and not dropped:
                route.fetch()  # the server stores the report ...
                dropped.append(route.request.headers["idempotency-key"])
                route.abort("connectionreset")  # ... and the phone never hears so
            else:
                route.continue_()

        page.route("**/api/v1/incidents", lose_first_answer)
        ctx.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_selector("#outbox li", state="detached", timeout=20_000)
        page.wait_for_selector("#mine li")
        page.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)
        assert axe_violations(page) == []
        shown = page.text_content("#mine")

    assert dropped, "the lost-answer path was not exercised"
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT i.id, i.code, g.code AS grid, i.source, i.description, u.username, "
                "(SELECT count(*) FROM incident_photo p WHERE p.incident_id = i.id) AS photos, "
                "(SELECT max(width) || 'x' || max(height) FROM incident_photo p WHERE p.incident_id = i.id) AS size "
                "FROM incident i JOIN grid g ON g.id = i.grid_id JOIN app_user u ON u.id = i.reporter_user_id "
                "WHERE i.idempotency_key = :k"
            ),
            {"k": dropped[0]},
        ).all()
        after = c.execute(sa.text("SELECT count(*) FROM incident")).scalar()
    assert len(rows) == 1 and after == before + 1  # exactly one incident, despite the retry
    row = rows[0]
    assert (row.grid, row.source, row.username, row.photos) == (grid, "grid_worker", "gridworker", 1)
    assert row.description == "小区门口垃圾堆放"
    assert row.size == "1600x1200"
    assert row.code in shown and "已上报" in shown
    assert errors == [] or all(
        "ERR_INTERNET_DISCONNECTED" in e or "Failed to fetch" in e or "ERR_CONNECTION_RESET" in e
        for e in errors
    ), errors


def test_report_page_is_served_without_external_urls(client):
    html = client.get("/report").text
    assert "随手拍" in html and "http://" not in html and "https://" not in html
    js = client.get("/static/report/report.js").text
    assert "/vendor/idb/index.js" in js and "https://" not in js
    assert client.get("/vendor/idb/index.js").status_code == 200

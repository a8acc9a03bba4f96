"""The console's 热线待定位 (issue 22), in Chromium: a hotline case whose address could not be placed waits
there; the dispatcher looks up the address as checked with the caller, places it, and it joins the queue."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.browser import ARTIFACTS, axe_violations, browser_contexts, sign_in
from tests.live import live_server

READY = "window.con && window.con.loaded === true"


def test_a_dispatcher_places_a_hotline_case_the_geocoder_could_not(settings, engine, client, auth):
    number = f"8890-{uuid.uuid4().hex[:8]}"
    case = {"case_number": number, "received_at": "2026-12-04T09:30:00+08:00", "address": "元宝区菜市场后面那栋楼",
            "category": "0101", "description": "楼道堆物"}  # fmt: skip
    r = client.post("/api/v1/intake/hotline", json=case, headers=auth("commander"))
    assert r.status_code == 201 and r.json()["state"] == "unplaced", r.text
    with engine.connect() as c:
        checked = c.execute(
            sa.text("SELECT full_name FROM address WHERE level = 'room' ORDER BY code DESC LIMIT 1")
        ).scalar_one()
    errors: list[str] = []
    with live_server(settings) as base, browser_contexts(2, base_url=base) as (centre, office):
        page = sign_in(centre, "/console", "commander", errors, READY)
        page.set_viewport_size({"width": 1920, "height": 1080})
        item = page.locator(f"#hotline li[data-case='{number}']")
        item.wait_for()
        assert "来电地址：元宝区菜市场后面那栋楼" in item.inner_text()
        assert (
            "没有相近的标准地址" in item.locator(".cands").inner_text()
            or item.locator(".cands button").count()
        )
        item.locator("input[name=q]").fill(checked)
        item.locator("button[type=submit]").click()
        first = item.locator(".cands button").first
        first.wait_for()
        assert checked in first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "console-hotline.png"))
        assert axe_violations(page) == []
        first.click()
        item.wait_for(state="detached")
        status = client.get(f"/api/v1/intake/hotline/{number}", headers=auth("commander")).json()
        assert status["state"] == "placed"
        page.locator(f"#queue li[data-id='{status['incident']['id']}']").wait_for()  # now in the 受理 queue
        street = sign_in(office, "/console", "street", errors, READY)  # officers take no hotline cases
        assert street.locator("#hotline-box").is_hidden()
    assert errors == []

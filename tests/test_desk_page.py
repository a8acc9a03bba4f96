"""部门处置台 in real headless Chromium: two handlers of one department at their desks at once.

The command centre dispatches two reports (one with a photo) to the urban-management
department. One handler takes the first on and resolves it; the other, looking at the second
while the first takes it on, is told plainly that it changed (409) and what it is now; then
gives back what is not the department's, with the reason the desk insists on. A grid worker's
desk holds only their own level's work. axe-core checks the desk; screenshots at 1920×1080.
"""

import uuid

import sqlalchemy as sa

from tests.browser import ARTIFACTS, axe_violations, browser_contexts, sign_in
from tests.live import live_server
from tests.photos import jpeg

DISTRICT_CATEGORY = "0202"  # 井盖缺失: handled at district level by urban_mgmt, the demo handler's department


def _dispatched(client, auth, spot, photo=False):
    files = [("photos", ("well.jpg", jpeg(), "image/jpeg"))] if photo else None
    r = client.post(
        "/api/v1/incidents",
        data={"category": DISTRICT_CATEGORY, "lon": spot[0], "lat": spot[1], "description": "人行道井盖缺失"},
        files=files,
        headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    i = r.json()["id"]
    for body in (
        {"action": "accept", "version": 1},
        {"action": "dispatch", "version": 2, "level": "district", "department": "urban_mgmt"},
    ):
        assert (
            client.post(f"/api/v1/incidents/{i}/actions", json=body, headers=auth("commander")).status_code
            == 200
        )
    return i


def _login(ctx, user, errors):
    return sign_in(ctx, "/desk", user, errors, "window.desk && window.desk.loaded === true")


def _state(engine, incident_id):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT state FROM incident WHERE id = :i"), {"i": incident_id}).scalar_one()


def test_two_handlers_work_one_inbox(settings, client, auth, spot, engine):
    first = _dispatched(client, auth, spot, photo=True)
    second = _dispatched(client, auth, spot)
    errors: list[str] = []
    size = {"width": 1920, "height": 1080}
    with (
        live_server(settings) as base,
        browser_contexts(2, viewport=size, base_url=base) as (one, two),
    ):
        a, b = _login(one, "handler", errors), _login(two, "handler", errors)
        for page in (a, b):
            ids = page.eval_on_selector_all("#inbox li", "els => els.map((e) => Number(e.dataset.id))")
            assert first in ids and second in ids
        assert not a.is_visible("#login-view") and a.is_visible("#logout")

        # the first: its photo, taken on, resolved with a note
        a.click(f"#inbox li[data-id='{first}']")
        a.wait_for_function(
            "document.querySelector('#d-photos img') && document.querySelector('#d-photos img').naturalWidth > 0"
        )
        assert "人行道井盖缺失" in a.text_content("#d-description")
        assert a.eval_on_selector_all("#actions button", "els => els.map((e) => e.dataset.action)") == [
            "start",
            "escalate",
            "return",
        ]
        a.screenshot(path=str(ARTIFACTS / "desk-inbox.png"))
        assert axe_violations(a) == []
        a.click("#actions button[data-action=start]")
        a.wait_for_function("document.querySelector('#d-state').textContent === '处置中'")
        a.fill("#note", "已更换井盖，现场恢复通行")
        a.click("#actions button[data-action=resolve]")
        a.wait_for_selector(f"#inbox li[data-id='{first}']", state="detached")
        assert _state(engine, first) == "resolved"

        # the second: B has it open when A takes it on; B's action meets the change, said plainly
        b.click(f"#inbox li[data-id='{second}']")
        b.wait_for_selector("#actions button[data-action=start]")
        a.click(f"#inbox li[data-id='{second}']")
        a.wait_for_selector("#actions button[data-action=start]")
        a.click("#actions button[data-action=start]")
        a.wait_for_function("document.querySelector('#d-state').textContent === '处置中'")
        b.click("#actions button[data-action=start]")
        b.wait_for_function("document.querySelector('#act-error').textContent.includes('已被他人处理')")
        assert "处置中" in b.text_content("#act-error")
        assert b.text_content("#d-state") == "处置中"  # reloaded: what B sees is what is
        b.screenshot(path=str(ARTIFACTS / "desk-conflict.png"))

        # not the department's: a reason first, then back to the centre and out of both inboxes
        b.click("#actions button[data-action=return]")
        assert "退回原因" in b.text_content("#act-error")
        assert _state(engine, second) == "in_progress"
        b.fill("#note", "属供水公司检查井，非市政井盖")
        b.click("#actions button[data-action=return]")
        b.wait_for_selector(f"#inbox li[data-id='{second}']", state="detached")
        assert _state(engine, second) == "accepted"
        a.reload()
        a.wait_for_function("window.desk && window.desk.loaded === true")
        assert not a.query_selector(f"#inbox li[data-id='{second}']")
        assert axe_violations(b) == []
    # Chromium logs a 4xx answer to the console: the one 409 above, and nothing else
    assert errors == [
        "handler: Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]


def test_the_keyboard_walks_the_inbox_and_a_grid_worker_sees_only_their_level(settings, client, auth, spot):
    ours = [_dispatched(client, auth, spot) for _ in range(2)]
    errors: list[str] = []
    size = {"width": 1920, "height": 1080}
    with live_server(settings) as base, browser_contexts(2, viewport=size, base_url=base) as (ctx, other):
        page = _login(ctx, "handler", errors)
        page.locator("#inbox li button").first.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#detail:not([hidden])")
        top = page.evaluate("desk.selected")
        page.keyboard.press("ArrowDown")
        page.wait_for_function(f"desk.selected !== {top}")
        assert page.evaluate("desk.selected") == page.evaluate("desk.items[1].id")
        # the filter: 处置中 holds none of the freshly dispatched
        page.click(".filter[data-states=in_progress]")
        page.wait_for_function("!desk.items.some((f) => f.properties.state !== 'in_progress')")
        assert not set(ours) & set(page.evaluate("desk.items.map((f) => f.id)"))

        worker = _login(other, "gridworker", errors)
        levels = worker.evaluate("desk.items.map((f) => f.properties.level)")
        assert set(levels) <= {"grid"} and not set(ours) & set(worker.evaluate("desk.items.map((f) => f.id)"))
    assert errors == []

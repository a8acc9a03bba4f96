"""网格员 app in real headless Chromium, as a grid worker uses it: one hand, a phone, a weak signal.

Phones at 360×740 and 412×915 with the worker's position from Playwright's geolocation. The
app is a product: no horizontal overflow, every tap target at least 44 px, no console errors,
axe-core clean; screenshots of every screen in test-artifacts/.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.browser import ARTIFACTS, axe_violations, browser_contexts, sign_in
from tests.live import live_server
from tests.photos import jpeg

PHONES = {"small": {"width": 360, "height": 740}, "large": {"width": 412, "height": 915}}


def phone(size, spot, **extra):
    return {
        "viewport": PHONES[size],
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
        "geolocation": {"longitude": spot[0], "latitude": spot[1], "accuracy": 8},
        "permissions": ["geolocation", "notifications"],
        **extra,
    }


def open_app(ctx, user, errors):
    return sign_in(ctx, "/app/", user, errors, "window.app && window.app.ready === true")


def layout_faults(page) -> list[str]:
    """Horizontal overflow, and visible tap targets smaller than 44 px in either direction."""
    return page.evaluate(
        """() => {
        const out = [];
        if (document.documentElement.scrollWidth > window.innerWidth) out.push(`overflow ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
        for (const el of document.querySelectorAll('button, select, input:not([type=file]), textarea, a[href]')) {
          const r = el.getBoundingClientRect();
          if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
          if (el.closest('.maplibregl-ctrl')) continue;
          if (r.width < 44 || r.height < 44) out.push(`${el.tagName}#${el.id || el.dataset.go || el.textContent.trim().slice(0, 8)} ${Math.round(r.width)}×${Math.round(r.height)}`);
        }
        return out;
      }"""
    )


@pytest.mark.parametrize("size", list(PHONES))
def test_every_screen_fits_a_phone_and_reads_clean(
    settings, engine, client, auth, spot, size, fresh_worker, plant_key_point
):
    user, worker = fresh_worker(name="李网格")
    code = plant_key_point(spot[0] + 0.0002, spot[1], name="防汛点测试")
    r = client.post(
        "/api/v1/incidents",
        data={"category": "0101", "lon": spot[0], "lat": spot[1], "description": "楼道堆放杂物"},
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))],
        headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
    )
    incident, code_of_incident = r.json()["id"], r.json()["properties"]["code"]
    for body in ({"action": "accept", "version": 1}, {"action": "dispatch", "version": 2, "level": "grid"}):
        assert (
            client.post(
                f"/api/v1/incidents/{incident}/actions", json=body, headers=auth("commander")
            ).status_code
            == 200
        )
    errors: list[str] = []
    with live_server(settings) as base, browser_contexts(1, base_url=base, **phone(size, spot)) as (ctx,):
        page = open_app(ctx, user, errors)
        page.wait_for_function("window.app.mapReady === true", timeout=20_000)
        assert "李网格" in page.text_content("#who")
        screens = {}
        for view in ("home", "tasks", "patrol", "report"):
            page.click(f"#tabs button[data-go={view}]")
            if view == "report":
                page.wait_for_function("document.querySelector('#r-where').textContent.startsWith('您在')")
                assert spot[2] and "网格" in page.text_content("#r-where")
            if view == "tasks":  # nothing waits to be sent, and the page says so
                assert (
                    page.is_visible("#outbox-empty")
                    and page.text_content("#outbox-empty") == "所有记录都已发送。"
                )
            if view == "patrol":
                assert page.is_visible(f"button[data-code='{code}']")
            screens[view] = (layout_faults(page), axe_violations(page))
            page.screenshot(path=str(ARTIFACTS / f"app-{view}-{size}.png"), full_page=True)
        page.click("#tabs button[data-go=tasks]")
        page.click(f"#task-list li:has-text('{code_of_incident}') button")
        page.wait_for_selector("#task:not([hidden])")
        page.wait_for_function(
            "document.querySelector('#t-photos img') && document.querySelector('#t-photos img').naturalWidth > 0"
        )
        screens["task"] = (layout_faults(page), axe_violations(page))
        page.screenshot(path=str(ARTIFACTS / f"app-task-{size}.png"), full_page=True)
    assert {k: v for k, v in screens.items() if v != ([], [])} == {}
    assert errors == []
    with engine.connect() as c:
        assert (
            c.execute(sa.text("SELECT state FROM incident WHERE id = :i"), {"i": incident}).scalar()
            == "dispatched"
        )


def test_the_app_page_holds_the_whole_app_and_is_built_from_the_sources_as_they_are(client):
    """One round trip makes a working app on a slow network: no script or style is fetched after the page.

    A source edited after the last build is built again when the server starts, so the page
    never serves yesterday's code.
    """
    import re

    from api.routers.pages import APP_PAGE, app_sources

    page = client.get("/app/")
    assert page.status_code == 200 and page.text == APP_PAGE.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet|modulepreload", page.text)
    assert '<script type="module">' in page.text and "<style>" in page.text
    assert APP_PAGE.stat().st_mtime >= max(p.stat().st_mtime for p in app_sources())
    for name in ("outbox.js", "patrol.js", "map.js"):  # what the app imports is inside, not fetched
        assert f"/static/shared/{name}" not in page.text and f"/static/app/{name}" not in page.text
    sw = client.get("/app/sw.js").text
    assert '"/app/"' in sw and "__VERSION__" not in sw and "__FILES__" not in sw

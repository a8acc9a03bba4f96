"""The residents' end of the loop: a grid worker's service card, and 我的诉求 opened from its QR code.

In real headless Chromium, as a resident with a phone: open the card's link, see the worker,
log in, report (it lands in the worker's grid), follow the request, rate it 不满意 (it reopens)
and, resolved again, 满意 (it closes). axe-core checks the page at each step.
"""

import io
from datetime import UTC, datetime

import segno
import sqlalchemy as sa
from PIL import Image

from gis_core.publishing import service_cards
from tests.browser import ARTIFACTS, axe_violations, browser_context
from tests.conftest import assert_problem
from tests.live import live_server
from tests.photos import jpeg


def _a_worker(engine):
    """An active worker with a grid, and that grid's code and community."""
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT w.code, w.name, w.phone, g.code AS grid, c.code AS community FROM worker w "
                "JOIN worker_grid wg ON wg.worker_id = w.id AND wg.is_primary JOIN grid g ON g.id = wg.grid_id "
                "JOIN community c ON c.id = g.community_id WHERE w.active ORDER BY w.code LIMIT 1"
            )
        ).one()


def test_a_card_is_public_in_json_svg_and_png_and_its_qr_opens_the_citizen_page(client, engine):
    w = _a_worker(engine)
    got = client.get(f"/api/v1/service-cards/{w.code}")  # no token: the card is posted publicly
    assert got.status_code == 200, got.text
    card = got.json()
    assert (card["name"], card["phone"], card["grid_code"]) == (w.name, w.phone, w.grid)
    assert card["url"] == f"http://testserver/me?worker={w.code}"

    svg = client.get(f"/api/v1/service-cards/{w.code}.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert w.name in svg.text and w.phone in svg.text and w.grid in svg.text
    # the QR code drawn is the one segno makes of the card's link
    expected = segno.make(card["url"], error="m")
    scale = service_cards._QR_SIZE // expected.symbol_size(border=2)[0]
    assert expected.svg_inline(scale=scale, border=2, dark="#111", light="#fff", omitsize=False) in svg.text

    png = client.get(f"/api/v1/service-cards/{w.code}.png")
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size == (service_cards.WIDTH, service_cards.HEIGHT)
    # the QR code's corner finder pattern is black on white at the card's lower right
    qr_size = expected.symbol_size(scale=scale, border=2)[0]
    left, top = service_cards.WIDTH - qr_size - 40, service_cards.HEIGHT - qr_size - 40
    assert image.convert("L").getpixel((left + 2 * scale + 1, top + 2 * scale + 1)) < 60  # first dark module
    assert image.convert("L").getpixel((left + 1, top + 1)) > 200  # the quiet zone

    assert_problem(client.get("/api/v1/service-cards/nobody"), 404)
    assert_problem(client.get("/api/v1/service-cards/nobody.svg"), 404)


def test_a_community_prints_every_card_of_its_workers(client, engine):
    w = _a_worker(engine)
    with engine.connect() as c:
        n = c.execute(
            sa.text(
                "SELECT count(*) FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id AND w.active "
                "JOIN grid g ON g.id = wg.grid_id JOIN community c ON c.id = g.community_id WHERE c.code = :c"
            ),
            {"c": w.community},
        ).scalar()
    page = client.get(f"/cards/{w.community}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('<figure class="card">') == n and f"（{n} 张）" in page.text
    assert_problem(client.get("/cards/000000000000"), 404)


def _rate_path(engine, incident_id, state):
    """Move an incident to `state` as the workflow would have (the handling itself is not this test's)."""
    with engine.begin() as c:
        c.execute(
            sa.text(
                "UPDATE incident SET state = :s, version = version + 1, resolved_at = :now WHERE id = :i"
            ),
            {"s": state, "now": datetime.now(UTC), "i": incident_id},
        )


def test_a_resident_reports_from_a_card_follows_the_request_and_rates_it(settings, engine, client):
    w = _a_worker(engine)
    errors: list[str] = []
    with (
        live_server(settings) as base,
        browser_context(viewport={"width": 390, "height": 844}, base_url=base) as ctx,
    ):
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"/me?worker={w.code}")  # what the card's QR code opens
        page.wait_for_selector("#worker:not([hidden])")
        assert page.text_content("#worker-name") == w.name
        assert page.get_attribute("#worker-phone", "href") == f"tel:{w.phone}"
        assert not page.is_visible("#logout")  # nobody to log out yet
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "me-from-card.png"), full_page=True)

        page.fill("input[name=username]", "citizen")
        page.fill("input[name=password]", "onegrid-demo")
        page.click("#login-form button")
        page.wait_for_selector("#report-form:not([hidden])")
        page.wait_for_function("document.querySelectorAll('#category option').length > 40")
        page.select_option("#category", "0101")
        page.fill("#description", "楼道堆放杂物，影响通行")
        assert page.text_content("#picked") == "未选择照片"
        page.set_input_files(
            "#photos", files=[{"name": "楼道.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
        )
        assert page.text_content("#picked") == "已选择 1 张照片"
        page.screenshot(path=str(ARTIFACTS / "me-report.png"), full_page=True)
        page.click("#submit")
        page.wait_for_selector("#requests li")
        assert axe_violations(page) == []

        with engine.connect() as c:
            incident_id, grid, state = c.execute(
                sa.text(
                    "SELECT i.id, g.code, i.state FROM incident i JOIN grid g ON g.id = i.grid_id "
                    "WHERE i.description = '楼道堆放杂物，影响通行' ORDER BY i.id DESC LIMIT 1"
                )
            ).one()
        assert grid == w.grid and state == "reported"  # routed to the card's grid, no GPS needed
        with engine.connect() as c:
            photos = c.execute(
                sa.text("SELECT count(*) FROM incident_photo WHERE incident_id = :i"), {"i": incident_id}
            )
        assert photos.scalar() == 1
        item = f"#requests li[data-id='{incident_id}']"
        assert "已上报" in page.text_content(item)

        # handled and resolved (by the loop; not this page's part): the resident is asked to rate
        _rate_path(engine, incident_id, "resolved")
        page.reload()
        page.click(f"{item} > button")
        page.wait_for_selector(f"{item} .rate button")
        assert "上报 → 已上报" in page.text_content(f"{item} .timeline")
        page.screenshot(path=str(ARTIFACTS / "me-rate.png"), full_page=True)
        assert axe_violations(page) == []
        page.click(f"{item} .rate button[data-rating=unsatisfied]")
        page.wait_for_function(f'!document.querySelector("{item} .rate")')
        with engine.connect() as c:
            reopened = c.execute(
                sa.text("SELECT state, reopened FROM incident WHERE id = :i"), {"i": incident_id}
            ).one()
        assert (
            reopened.state not in ("resolved", "closed") and reopened.reopened >= 1
        )  # back to who handles it

        _rate_path(engine, incident_id, "resolved")
        page.reload()
        page.click(f"{item} > button")
        page.click(f"{item} .rate button[data-rating=satisfied]")
        page.wait_for_selector(f"{item} .done")
        assert page.text_content(f"{item} .done") == "您的评价：满意"
        with engine.connect() as c:
            closed = c.execute(
                sa.text("SELECT state, rating FROM incident WHERE id = :i"), {"i": incident_id}
            ).one()
        assert tuple(closed) == ("closed", "satisfied")
        timeline = page.text_content(f"{item} .timeline")
        assert timeline.count("评价 →") == 2 and "评价 → 已交办" in timeline  # reopened, then closed
        page.screenshot(path=str(ARTIFACTS / "me-closed.png"), full_page=True)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]  # no horizontal overflow on the phone
    assert errors == []


def test_the_citizen_page_is_served_without_external_urls(client):
    html = client.get("/me").text
    assert "我的诉求" in html and "http://" not in html and "https://" not in html
    for asset in ("/static/me/me.js", "/static/me/me.css", "/static/shared/states.js"):
        r = client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text and "http://" not in r.text, asset

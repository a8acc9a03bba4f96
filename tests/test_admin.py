"""Accounts without the demo: created by an admin with a one-time password, changed at the first login,
disabled, re-enabled, given another role, all in the append-only admin log; from the API and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import assert_problem

STRONG = "Qiao-dong-2026"


def _login(client, username, password):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _new(client, auth, **extra):
    body = {"username": f"acc-{uuid.uuid4().hex[:8]}", "display_name": "王社区", "role": "citizen", **extra}
    return client.post("/api/v1/admin/users", json=body, headers=auth("admin"))


@pytest.fixture(scope="module", autouse=True)
def _forget_the_accounts_made_here(engine):
    """The accounts these tests make go when they are done (the admin log keeps their story)."""
    yield
    with engine.begin() as c:
        c.execute(
            sa.text(
                "UPDATE worker SET user_id = NULL WHERE user_id IN (SELECT id FROM app_user WHERE username ~ '^(acc|zhang|cli)-')"
            )
        )
        c.execute(sa.text("DELETE FROM app_user WHERE username ~ '^(acc|zhang|cli)-'"))


@pytest.fixture(scope="module")
def places(engine):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT (SELECT min(code) FROM community) AS community, (SELECT min(code) FROM street) AS street, "
                "(SELECT min(w.code) FROM worker w WHERE w.user_id IS NULL AND w.active) AS free_worker, "
                "(SELECT w.code FROM worker w JOIN app_user u ON u.id = w.user_id WHERE u.username = 'gridworker') "
                "AS taken_worker"
            )
        ).one()


def test_an_account_starts_with_a_one_time_password_that_must_be_changed(client, auth, places):
    r = _new(client, auth, role="community_officer", jurisdiction_code=places.community)
    assert r.status_code == 201, r.text
    acc, once = r.json()["account"], r.json()["one_time_password"]
    assert acc["must_change_password"] and "password_hash" not in acc
    assert r.headers["Location"] == f"/api/v1/admin/users/{acc['username']}"
    assert (
        assert_problem(_login(client, acc["username"], once), 403, "password-change-required")["where"]
        == "body.password"
    )
    change = {"username": acc["username"], "password": once}
    for weak, why in (
        ("short1A", "at least"),
        ("lowercase12345", "three of"),
        (acc["username"] + "X1!", "username"),
    ):
        p = assert_problem(client.post("/api/v1/auth/password", json=change | {"new_password": weak}), 400)
        assert p["where"] == "body.new_password" and why in p["detail"]
    assert_problem(
        client.post(
            "/api/v1/auth/password", json=change | {"password": "wrong-Pass-1", "new_password": STRONG}
        ),
        401,
    )
    assert client.post("/api/v1/auth/password", json=change | {"new_password": STRONG}).status_code == 204
    assert_problem(_login(client, acc["username"], once), 401)  # the one-time password is spent
    token = _login(client, acc["username"], STRONG).json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["jurisdiction_code"]) == ("community_officer", places.community)
    log = client.get("/api/v1/admin/log", params={"subject": acc["username"]}, headers=auth("admin")).json()
    assert [(e["action"], e["actor"]) for e in log] == [
        ("user.password", acc["username"]),
        ("user.add", "admin"),
    ]


@pytest.mark.parametrize(
    ("extra", "status", "where"),
    [
        ({"role": "mayor"}, 400, "body.role"),
        ({"role": "community_officer", "jurisdiction_code": "999999999999"}, 400, "body.jurisdiction_code"),
        ({"role": "department_handler", "department_code": "community_office"}, 400, "body.department_code"),
        ({"role": "grid_worker"}, 400, "body.worker_code"),
        ({"username": "a b"}, 400, "body.username"),
        ({"username": "commander"}, 409, "body.username"),
    ],
)
def test_an_account_without_a_clear_role_and_place_is_refused_and_nothing_is_stored(
    client, auth, engine, extra, status, where
):
    before = client.get("/api/v1/admin/users", headers=auth("admin")).json()
    assert assert_problem(_new(client, auth, **extra), status)["where"] == where
    assert client.get("/api/v1/admin/users", headers=auth("admin")).json() == before


def test_a_worker_record_has_one_account(client, auth, places):
    assert (
        assert_problem(_new(client, auth, role="grid_worker", worker_code=places.taken_worker), 409)["where"]
        == "body.worker_code"
    )
    r = _new(client, auth, role="grid_worker", worker_code=places.free_worker)
    assert r.status_code == 201 and r.json()["account"]["worker_code"] == places.free_worker


def test_only_admins_manage_accounts(client, auth):
    for user in ("commander", "citizen"):
        assert_problem(client.get("/api/v1/admin/users", headers=auth(user)), 403)
        assert_problem(_new(client, lambda _u, user=user: auth(user)), 403)
    assert_problem(client.get("/api/v1/admin/users"), 401)


def test_disabling_ends_every_session_at_once_and_a_new_role_does_too(client, auth, places):
    r = _new(client, auth, role="department_handler", department_code="urban_mgmt")
    name, once = r.json()["account"]["username"], r.json()["one_time_password"]
    client.post("/api/v1/auth/password", json={"username": name, "password": once, "new_password": STRONG})
    h = {"Authorization": f"Bearer {_login(client, name, STRONG).json()['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    off = client.patch(f"/api/v1/admin/users/{name}", json={"active": False}, headers=auth("admin"))
    assert off.status_code == 200 and off.json()["active"] is False
    assert_problem(client.get("/api/v1/auth/me", headers=h), 401)  # at once, not after the token cache's TTL
    assert_problem(_login(client, name, STRONG), 401)
    client.patch(f"/api/v1/admin/users/{name}", json={"active": True}, headers=auth("admin"))
    h = {"Authorization": f"Bearer {_login(client, name, STRONG).json()['access_token']}"}
    moved = client.patch(
        f"/api/v1/admin/users/{name}",
        json={"role": "street_officer", "jurisdiction_code": places.street},
        headers=auth("admin"),
    )
    assert moved.status_code == 200 and moved.json()["role"] == "street_officer"
    assert_problem(client.get("/api/v1/auth/me", headers=h), 401)  # the old session carried the old role
    me = client.get(
        "/api/v1/auth/me",
        headers={"Authorization": f"Bearer {_login(client, name, STRONG).json()['access_token']}"},
    )
    assert me.json()["role"] == "street_officer"
    reset = client.post(f"/api/v1/admin/users/{name}/reset-password", headers=auth("admin")).json()
    assert_problem(_login(client, name, STRONG), 401)
    assert_problem(_login(client, name, reset["one_time_password"]), 403, "password-change-required")
    actions = [
        e["action"]
        for e in client.get("/api/v1/admin/log", params={"subject": name}, headers=auth("admin")).json()
    ]
    assert actions == [
        "user.reset_password",
        "user.set_role",
        "user.enable",
        "user.disable",
        "user.password",
        "user.add",
    ]


def test_an_admin_cannot_lock_themselves_out(client, auth):
    me = "admin"
    assert_problem(client.patch(f"/api/v1/admin/users/{me}", json={"active": False}, headers=auth(me)), 409)
    assert_problem(client.patch(f"/api/v1/admin/users/{me}", json={"role": "planner"}, headers=auth(me)), 409)
    assert client.get("/api/v1/auth/me", headers=auth(me)).json()["role"] == "admin"


def test_the_admin_log_cannot_be_rewritten(engine):
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as c:
        c.execute(sa.text("UPDATE admin_log SET actor = 'nobody'"))
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as c:
        c.execute(sa.text("DELETE FROM admin_log"))


def test_the_command_line_manages_accounts_too(db_url, client, places):
    def onegrid(*args):
        return subprocess.run(
            [sys.executable, "-m", "gis_core.cli", "user", *args],
            capture_output=True,
            text=True,
            check=False,
            env={"ONEGRID_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        )

    name = f"cli-{uuid.uuid4().hex[:6]}"
    r = onegrid("add", name, "--name", "李街道", "--role", "street_officer", "--jurisdiction", places.street)
    assert r.returncode == 0, r.stderr
    once = re.search(r"one-time password.*: (\S+)$", r.stdout.strip()).group(1)
    assert_problem(_login(client, name, once), 403, "password-change-required")
    bad = onegrid("add", f"{name}x", "--name", "x", "--role", "street_officer", "--jurisdiction", "nowhere")
    assert bad.returncode == 1 and "jurisdiction_code" in bad.stderr
    assert onegrid("disable", name).returncode == 0
    listed = onegrid("list").stdout
    assert re.search(
        rf"^{name}\s+street_officer\s+{places.street}\s+李街道 已停用 待改密码$", listed, flags=re.M
    ), listed
    assert onegrid("enable", name).returncode == 0
    r = onegrid("reset-password", name)
    assert r.returncode == 0 and once not in r.stdout


def test_an_admin_page_makes_an_account_and_its_person_chooses_a_password_at_the_first_login(
    settings, places
):
    """In Chromium: the admin creates a handler on /admin; the handler's first login on /desk asks for a new password."""
    from tests.browser import ARTIFACTS, axe_violations, browser_contexts, sign_in
    from tests.live import live_server

    errors: list[str] = []
    name = f"zhang-{uuid.uuid4().hex[:5]}"
    with (
        live_server(settings) as base,
        browser_contexts(2, base_url=base, viewport={"width": 1600, "height": 1000}) as (a, b),
    ):
        admin = sign_in(a, "/admin", "admin", errors, "window.adm && window.adm.loaded === true")
        admin.fill("#add-form input[name=username]", name)
        admin.fill("#add-form input[name=display_name]", "张处置")
        admin.select_option("#role", "department_handler")
        assert admin.is_visible("#f-department") and not admin.is_visible("#f-jurisdiction")
        admin.select_option("#department", "urban_mgmt")
        admin.click("#add-form button[type=submit]")
        admin.wait_for_selector(f"tr[data-username='{name}']")
        once = admin.text_content("#secret code")
        assert "待改密码" in admin.text_content(f"tr[data-username='{name}']")
        admin.screenshot(path=str(ARTIFACTS / "admin-accounts.png"))
        assert axe_violations(admin) == []

        desk = b.new_page()
        desk.on("pageerror", lambda e: errors.append(str(e)))
        desk.goto("/desk")
        desk.fill("input[name=username]", name)
        desk.fill("input[name=password]", once)
        desk.click("#login-form button[type=submit]")
        desk.wait_for_selector("input[name=new_password]")
        assert "新密码" in desk.text_content("#login-error")
        desk.fill("input[name=new_password]", "short1A!")
        desk.fill("input[name=new_password_again]", "short1A!")
        desk.click("#login-form button[type=submit]")
        desk.wait_for_function("document.querySelector('#login-error').textContent.includes('不符合要求')")
        desk.fill("input[name=new_password]", STRONG)
        desk.fill("input[name=new_password_again]", STRONG)
        desk.screenshot(path=str(ARTIFACTS / "first-login.png"))
        assert axe_violations(desk) == []
        desk.click("#login-form button[type=submit]")
        desk.wait_for_function("window.desk && window.desk.loaded === true")
        assert desk.text_content("#who") == "张处置"

        admin.reload()
        admin.wait_for_function("window.adm && window.adm.loaded === true")
        # a new role and place: the handler becomes the community's officer, and signs in anew
        admin.select_option("#r-username", name)
        admin.select_option("#r-role", "community_officer")
        assert admin.is_visible("#r-jurisdiction") and not admin.is_visible("#r-department")
        admin.fill("#role-form input[name=jurisdiction_code]", places.community)
        admin.click("#role-form button[type=submit]")
        admin.wait_for_function(
            f"document.querySelector(\"tr[data-username='{name}']\").textContent.includes('社区')"
        )
        desk.reload()  # its session carried the old role
        desk.wait_for_selector("#login-view:not([hidden])")
        admin.click(f"tr[data-username='{name}'] button[data-act=disable]")
        admin.wait_for_selector(f"tr[data-username='{name}'].off")
        log = admin.text_content("#log")
        assert "停用" in log and "修改角色" in log
        admin.screenshot(path=str(ARTIFACTS / "admin-role.png"))
        assert axe_violations(admin) == []
    assert [e for e in errors if "401" not in e] == []


def test_a_changed_deadline_applies_to_new_incidents_only(client, auth, spot, engine):
    """The catalogue as data: an edit is a new version; an incident keeps the one it was reported under."""

    def report():
        r = client.post(
            "/api/v1/incidents",
            data={"category": "0104", "lon": spot[0], "lat": spot[1]},
            headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def dispatched_for_hours(i):
        for body in ({"action": "accept", "version": 1}, {"action": "dispatch", "version": 2}):
            r = client.post(f"/api/v1/incidents/{i}/actions", json=body, headers=auth("commander"))
            assert r.status_code == 200, r.text
        p = r.json()["properties"]
        from datetime import datetime

        return (
            datetime.fromisoformat(p["due_at"]) - datetime.fromisoformat(p["dispatched_at"])
        ).total_seconds() / 3600

    before = client.get("/api/v1/admin/categories/0104", headers=auth("admin")).json()
    old = report()
    bad = client.patch("/api/v1/admin/categories/0104", json={"handle_hours": 0}, headers=auth("admin"))
    assert assert_problem(bad, 400)["where"] == "body.handle_hours"
    r = client.patch(
        "/api/v1/admin/categories/0104",
        json={"handle_hours": before["handle_hours"] + 24},
        headers=auth("admin"),
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["version"] == before["version"] + 1 and after["versions"][0]["changed_by"] == "admin"
    assert after["versions"][1]["handle_hours"] == before["handle_hours"]  # the old one kept
    new = report()
    assert dispatched_for_hours(old) == pytest.approx(before["handle_hours"], abs=0.01)
    assert dispatched_for_hours(new) == pytest.approx(before["handle_hours"] + 24, abs=0.01)
    assert_problem(
        client.patch("/api/v1/admin/categories/0104", json={"handle_hours": 1}, headers=auth("commander")),
        403,
    )
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as c:
        c.execute(sa.text("UPDATE category_version SET handle_hours = 1"))
    client.patch(
        "/api/v1/admin/categories/0104", json={"handle_hours": before["handle_hours"]}, headers=auth("admin")
    )


def test_a_class_in_use_cannot_be_deleted_and_a_new_one_can_be_used_and_removed(client, auth, spot):
    in_use = assert_problem(client.delete("/api/v1/admin/categories/0101", headers=auth("admin")), 409)
    assert in_use["incidents"] > 0 and in_use["where"] == "path.code"
    new = {
        "code": "9901",
        "major_code": "99",
        "major_name": "试点类",
        "name": "共享单车乱停",
        "handling_level": "grid",
        "department_code": "grid_self",
        "accept_hours": 1,
        "dispatch_hours": 2,
        "handle_hours": 24,
    }
    assert (
        assert_problem(
            client.post("/api/v1/admin/categories", json=new | {"code": "9801"}, headers=auth("admin")), 400
        )["where"]
        == "body.code"
    )
    r = client.post("/api/v1/admin/categories", json=new, headers=auth("admin"))
    assert r.status_code == 201 and r.json()["version"] == 1
    assert any(m["code"] == "99" for m in client.get("/api/v1/categories").json())
    assert client.delete("/api/v1/admin/categories/9901", headers=auth("admin")).status_code == 204
    assert_problem(client.delete("/api/v1/admin/categories/9901", headers=auth("admin")), 404)


def test_the_admin_page_edits_the_catalogue_and_refuses_to_delete_an_item_in_use(settings, client, auth):
    """In Chromium: a new deadline saved on /admin is a new version; an item in use stays."""
    from tests.browser import ARTIFACTS, axe_violations, browser_contexts, sign_in
    from tests.live import live_server

    new = {"code": "9902", "major_code": "99", "major_name": "试点类", "name": "占道晾晒",
           "handling_level": "grid", "department_code": "grid_self",
           "accept_hours": 1, "dispatch_hours": 2, "handle_hours": 24}  # fmt: skip
    assert client.post("/api/v1/admin/categories", json=new, headers=auth("admin")).status_code == 201
    errors: list[str] = []
    try:
        with (
            live_server(settings) as base,
            browser_contexts(1, base_url=base, viewport={"width": 1600, "height": 1000}) as (ctx,),
        ):
            page = sign_in(ctx, "/admin", "admin", errors, "window.adm && window.adm.loaded === true")
            row = page.locator("#catalogue tr[data-code='9902']")
            row.get_by_label("占道晾晒 处置时限（小时）").fill("12")
            row.get_by_label("占道晾晒 处置层级").select_option("community")
            row.get_by_role("button", name="保存 占道晾晒").click()
            page.wait_for_function("document.querySelector('#cat-msg').textContent.includes('第 2 版')")
            item = client.get("/api/v1/admin/categories/9902", headers=auth("admin")).json()
            assert (item["version"], float(item["handle_hours"]), item["handling_level"]) == (
                2,
                12.0,
                "community",
            )
            page.on("dialog", lambda d: d.accept())  # 删除？ yes
            page.locator("#catalogue tr[data-code='0101'] button[data-act=delete]").click()
            page.wait_for_function(
                "document.querySelector('#cat-msg').textContent.includes('件事件归于此事项')"
            )
            assert page.locator("#catalogue tr[data-code='0101']").count() == 1
            page.screenshot(path=str(ARTIFACTS / "admin-catalogue.png"), full_page=True)
            assert axe_violations(page) == []
            page.get_by_role("button", name="删除 占道晾晒").click()
            page.wait_for_function("!document.querySelector(\"#catalogue tr[data-code='9902']\")")
    finally:
        client.delete("/api/v1/admin/categories/9902", headers=auth("admin"))
    assert client.get("/api/v1/admin/categories/9902", headers=auth("admin")).status_code == 404
    assert [e for e in errors if "409" not in e] == []

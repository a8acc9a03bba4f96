"""Single sign-on against a real OpenID Connect provider run locally (npm's `oidc-provider`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
import sqlalchemy as sa

from gis_core.platform import oidc
from gis_core.platform.errors import AuthError
from tests.browser import ARTIFACTS, axe_violations, browser_contexts
from tests.conftest import assert_problem
from tests.live import free_port, live_server

ROOT = Path(__file__).resolve().parents[1]
ROLES = {"社区网格长": "community_officer", "指挥中心": "commander"}
CALLBACK = "/api/v1/auth/oidc/callback"


@contextmanager
def identity_provider(port: int, redirect_uris: list[str], accounts: dict):
    """The provider on `port` (its issuer http://127.0.0.1:port), until the block ends."""
    env = {**os.environ, "PORT": str(port), "REDIRECT_URIS": ",".join(redirect_uris),
           "ACCOUNTS": json.dumps(accounts, ensure_ascii=False)}  # fmt: skip
    proc = subprocess.Popen(
        ["node", str(ROOT / "tests/oidc/provider.mjs")], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready"), f"the provider did not start: {line!r}"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def community(engine):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT code FROM community ORDER BY code LIMIT 1")).scalar_one()


@pytest.fixture(scope="module")
def sso(settings, community):
    """A OneGrid server whose logins may go through the provider, and the provider: (base, issuer)."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {"ONEGRID_OIDC_ISSUER": issuer, "ONEGRID_OIDC_ROLES": json.dumps(ROLES, ensure_ascii=False)}
    with live_server(settings, **env) as base:
        people = {
            "wangfang": {"name": "王芳", "onegrid_role": "社区网格长", "onegrid_area": community},
            "zhaolei": {"name": "赵磊", "onegrid_role": "指挥中心"},
            "visitor": {"name": "访客", "onegrid_role": "访客"},
        }
        with identity_provider(port, [base + CALLBACK], people) as started:
            assert started == issuer
            yield base, issuer


class _Form(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""


def through_provider(client: httpx.Client, url: str, login: str, stop_at: str) -> str:
    """Follow the provider's login and consent as a person would, to the first URL under `stop_at`."""
    for _ in range(20):
        if url.startswith(stop_at):
            return url
        r = client.get(url)
        while r.status_code in (302, 303):
            url = urljoin(str(r.url), r.headers["location"])
            if url.startswith(stop_at):
                return url
            r = client.get(url)
        form = _Form()
        form.feed(r.text)
        assert form.action, r.text[:500]
        fields = form.fields | ({"login": login, "password": "any"} if "login" in form.fields else {})
        posted = client.post(urljoin(str(r.url), form.action), data=fields)
        url = urljoin(str(posted.url), posted.headers["location"])
    raise AssertionError("the provider never sent the browser back")


def sign_in(base: str, login: str, next_path: str = "/console") -> tuple[httpx.Client, str, httpx.Response]:
    """A whole login through the provider: (the browser, the callback URL, OneGrid's answer to it)."""
    browser = httpx.Client(follow_redirects=False, timeout=20)
    start = browser.get(f"{base}/api/v1/auth/oidc/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    callback = through_provider(browser, start.headers["location"], login, base + CALLBACK)
    return browser, callback, browser.get(callback)


def token_of(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlparse(answer.headers["location"]).fragment)["sso_token"][0]


def test_a_login_through_the_provider_gets_the_mapped_role_and_area_and_cannot_be_replayed(
    sso, engine, community
):
    base, issuer = sso
    browser, callback, answer = sign_in(base, "wangfang")
    assert urlparse(answer.headers["location"]).path == "/console"
    token = token_of(answer)
    me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["username"], me["display_name"], me["role"], me["jurisdiction_code"]) == (
        "wangfang", "王芳", "community_officer", community,
    )  # fmt: skip
    assert_problem(browser.get(callback), 400)  # a replayed callback: the state was taken once
    with engine.connect() as c:
        logged = c.execute(
            sa.text("SELECT actor, action FROM admin_log WHERE subject = 'wangfang' ORDER BY id")
        ).all()
        no_password = c.execute(
            sa.text("SELECT password_hash IS NULL FROM app_user WHERE username = 'wangfang'")
        ).scalar_one()
    assert logged[0] == (f"oidc:{issuer}", "user.sso_add") and no_password
    # a second login is the same account, no second row
    _, _, again = sign_in(base, "wangfang")
    assert token_of(again) != token
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM app_user WHERE username = 'wangfang'")).scalar() == 1


def test_pkce_state_and_next_are_checked(sso):
    base, _ = sso
    browser = httpx.Client(follow_redirects=False, timeout=20)
    start = browser.get(f"{base}/api/v1/auth/oidc/login", params={"next": "/desk"})
    asked = parse_qs(urlparse(start.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
    assert asked["nonce"][0] and asked["state"][0] and asked["client_id"] == ["onegrid"]
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert_problem(browser.get(f"{base}/api/v1/auth/oidc/login", params={"next": evil}), 400)
    # a callback for a login this browser did not begin (login CSRF) is refused
    callback = through_provider(browser, start.headers["location"], "zhaolei", base + CALLBACK)
    stranger = httpx.Client(follow_redirects=False, timeout=20)
    assert_problem(stranger.get(callback), 400)
    assert_problem(browser.get(f"{base}{CALLBACK}?error=access_denied&error_description=no"), 401)


def test_a_person_the_provider_gives_no_onegrid_role_is_refused(sso, engine):
    _, _, answer = sign_in(sso[0], "visitor")
    assert_problem(answer, 403)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM app_user WHERE username = 'visitor'")).scalar() == 0


def _id_token(issuer: str, client_id: str, login: str, redirect: str) -> str:
    """An ID token straight from the provider, as another client of it would get one."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    browser = httpx.Client(follow_redirects=False, timeout=20)
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": "openid profile",
             "state": "s", "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256"}  # fmt: skip
    back = through_provider(browser, str(httpx.URL(f"{issuer}/auth", params=query)), login, redirect)
    code = parse_qs(urlparse(back).query)["code"][0]
    tokens = httpx.post(f"{issuer}/token", data={"grant_type": "authorization_code", "code": code,
                        "redirect_uri": redirect, "client_id": client_id, "code_verifier": verifier})  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    return tokens.json()["id_token"]


def test_tokens_from_another_issuer_for_another_audience_or_expired_are_refused(sso, settings):
    base, issuer = sso
    ours = settings.model_copy(update={"oidc_issuer": issuer, "oidc_client_id": "onegrid"})
    redirect = base + CALLBACK
    good = _id_token(issuer, "onegrid", "zhaolei", redirect)
    assert oidc.verify_id_token(good, ours, None)["preferred_username"] == "zhaolei"
    with pytest.raises(AuthError, match="(?i)audience"):
        oidc.verify_id_token(_id_token(issuer, "another-app", "zhaolei", redirect), ours, None)
    short = _id_token(issuer, "onegrid-short", "zhaolei", redirect)
    time.sleep(2.1)
    with pytest.raises(AuthError, match="(?i)expired"):
        oidc.verify_id_token(short, ours.model_copy(update={"oidc_client_id": "onegrid-short"}), None)
    with pytest.raises(AuthError, match="nonce"):
        oidc.verify_id_token(good, ours, "not-this-login")
    other_port = free_port()
    with identity_provider(other_port, [redirect], {"zhaolei": {"onegrid_role": "指挥中心"}}) as other:
        foreign = _id_token(other, "onegrid", "zhaolei", redirect)
    with pytest.raises(AuthError, match="ID token refused"):
        oidc.verify_id_token(foreign, ours, None)


def test_without_a_provider_there_is_no_single_sign_on(client):
    assert client.get("/api/v1/auth/providers").json() == {}
    assert_problem(client.get("/api/v1/auth/oidc/login", follow_redirects=False), 404)


def test_the_console_signs_a_dispatcher_in_through_the_provider(sso):
    base, _ = sso
    errors: list[str] = []
    with browser_contexts(1, viewport={"width": 1920, "height": 1080}) as (ctx,):  # a dispatcher's screen
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/console")
        offer = page.get_by_role("link", name="统一身份认证登录")
        offer.wait_for()
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "sso-login.png"))
        offer.click()
        page.locator("input[name=login]").fill("zhaolei")
        page.locator("input[name=password]").fill("any")
        page.locator("button[type=submit]").click()
        page.locator("button[type=submit]").click()  # the provider's consent: Continue
        page.wait_for_url(re.compile(r".*/console$"))
        page.locator("#console-view").wait_for(state="visible")
        assert "sso_token" not in page.url  # kept, and taken out of the address bar
        assert page.evaluate("localStorage.getItem('onegrid.token')")
        # an empty list says so, a full one does not
        page.wait_for_function("window.con && window.con.loaded === true")
        for ul in ("queue", "sla-list", "escalated"):
            empty = page.locator(f"#{ul} li").count() == 0
            assert page.is_visible(f"#{ul}-empty") == empty, ul
        page.screenshot(path=str(ARTIFACTS / "sso-console.png"))
    assert errors == []


def test_the_provider_decides_role_and_place_and_a_disabled_account_stays_out(engine, settings, community):
    from gis_core.platform.errors import Forbidden

    conf = settings.model_copy(update={"oidc_roles": ROLES})
    claims = {"iss": "http://idp.example", "sub": secrets.token_hex(4), "name": "孙丽",
              "preferred_username": f"sunli{secrets.token_hex(3)}", "onegrid_role": "社区网格长",
              "onegrid_area": community}  # fmt: skip
    with engine.begin() as c:
        first = oidc.account_of(c, conf, claims)
        moved = oidc.account_of(c, conf, claims | {"onegrid_role": "指挥中心", "onegrid_area": None})
        assert (first.id, first.role, moved.id, moved.role) == (
            first.id,
            "community_officer",
            first.id,
            "commander",
        )
        assert moved.jurisdiction_code is None
        actions = (
            c.execute(
                sa.text("SELECT action FROM admin_log WHERE subject = :u ORDER BY id"), {"u": first.username}
            )
            .scalars()
            .all()
        )
        assert actions == ["user.sso_add", "user.sso_update"]
        # renamed at the provider: the same person (issuer and subject), the same account
        renamed = oidc.account_of(
            c, conf, claims | {"onegrid_role": "指挥中心", "preferred_username": "sunli-new"}
        )
        assert (renamed.id, renamed.username) == (first.id, first.username)
        c.execute(sa.text("UPDATE app_user SET active = false WHERE id = :i"), {"i": first.id})
        with pytest.raises(Forbidden, match="disabled"):
            oidc.account_of(c, conf, claims)

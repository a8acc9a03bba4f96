"""What every page shares: checks that hold for all of `web/*/index.html` at once.

A page hides and shows its parts with the `hidden` attribute; a rule such as `button {
display: block }` beats the browser's own `[hidden] { display: none }`, and a hidden button
shows (the citizen page's 退出 stood there before anyone had logged in). So every page's own
stylesheets must restore the attribute's meaning.
"""

import re

import pytest

from gis_core.platform.settings import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"
PAGES = sorted(WEB.glob("*/index.html"))
HIDDEN_WINS = re.compile(r"\[hidden\]\s*\{\s*display:\s*none\s*!important;?\s*\}")


def _own_stylesheets(page):
    return [WEB / m for m in re.findall(r'href="/static/([^"]+\.css)"', page.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=[p.parent.name for p in PAGES])
def test_the_hidden_attribute_wins_on_every_page(page):
    sheets = _own_stylesheets(page)
    assert sheets, f"{page} links no stylesheet of its own"
    assert any(HIDDEN_WINS.search(s.read_text()) for s in sheets), f"{page}: no [hidden] rule in {sheets}"


@pytest.mark.parametrize("page", PAGES, ids=[p.parent.name for p in PAGES])
def test_every_page_speaks_chinese(page):
    assert '<html lang="zh-CN">' in page.read_text()


def test_every_character_the_pages_write_is_in_their_font():
    """The font `make setup` installs (Debian's fonts-wqy-microhei; the wall's glyphs come from it
    too) is the one the pages fall back to; a character it lacks shows as an empty box where no
    other font has it: the photo picker's 📷 did, in the screenshots."""
    from gis_core.publishing.glyphs import _font

    _, has = _font()
    missing = {
        (str(path.relative_to(WEB)), ch)
        for path in WEB.rglob("*")
        if path.suffix in (".html", ".js", ".css")
        for ch in set(path.read_text(encoding="utf-8"))
        if ord(ch) > 127 and ord(ch) not in has
    }
    assert missing == set()

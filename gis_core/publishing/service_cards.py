"""Service cards (服务联系卡): each grid worker's printable card, with a QR code to the citizen page.

A card is public by design: it is printed and posted in the community, so a resident can call
or reach their grid worker. It says who (name, duty phone), where (grid, community, street) and
carries a QR code that opens the citizen page bound to that worker and grid, whose report form
routes to that grid. The same layout draws the SVG and the PNG (Pillow, WenQuanYi fonts from
the Debian package `make setup` installs); segno draws the QR code.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from functools import lru_cache
from html import escape
from typing import Any

import segno
import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont

from gis_core.platform.errors import NotFound
from gis_core.publishing.glyphs import FONT_FILE

#: A card is 85.6 × 54 mm (ID-1), drawn at 10 px per mm.
WIDTH, HEIGHT = 856, 540
_QR_SIZE = 300  # px, at the card's right
_CARDS = """
SELECT w.code AS worker_code, w.name, w.phone, g.code AS grid_code, g.name AS grid_name,
       c.code AS community_code, c.name AS community_name, s.name AS street_name,
       ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
FROM worker w
JOIN worker_grid wg ON wg.worker_id = w.id
JOIN grid g ON g.id = wg.grid_id JOIN community c ON c.id = g.community_id JOIN street s ON s.id = c.street_id
WHERE w.active AND {where}
ORDER BY g.code, wg.is_primary DESC, w.code
"""


@dataclass(frozen=True)
class Card:
    """What a worker's card shows, and where in their grid a report from it is placed by default."""

    worker_code: str
    name: str
    phone: str
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    street_name: str
    lon: float
    lat: float

    def url(self, base: str) -> str:
        """The citizen page bound to this worker (and their grid): what the QR code opens."""
        return f"{base}/me?worker={self.worker_code}"

    def as_dict(self, base: str) -> dict[str, Any]:
        """The card as the API answers it."""
        return {**asdict(self), "url": self.url(base)}


def card(conn: sa.Connection, worker_code: str) -> Card:
    """The card of an active worker, for their primary grid; 404 when there is none."""
    row = conn.execute(sa.text(_CARDS.format(where="w.code = :w") + " LIMIT 1"), {"w": worker_code}).first()
    if row is None:
        raise NotFound(f"no active grid worker {worker_code!r}", where="path.worker_code")
    return Card(**row._mapping)


def community_cards(conn: sa.Connection, community_code: str) -> list[Card]:
    """Every card of a community: one per worker and grid (a worker of two grids has two)."""
    rows = conn.execute(sa.text(_CARDS.format(where="c.code = :c")), {"c": community_code}).all()
    if not rows:
        raise NotFound(f"no grid worker in community {community_code!r}", where="path.community_code")
    return [Card(**r._mapping) for r in rows]


def _lines(c: Card) -> list[tuple[int, int, int, str, str]]:
    """(x, y of the baseline, size in px, colour, text) of every line on the card."""
    return [
        (40, 70, 34, "#fff", "网格服务联系卡"),
        (40, 150, 52, "#111", c.name),
        (40, 215, 30, "#111", f"电话 {c.phone}"),
        (40, 280, 26, "#111", f"{c.street_name} · {c.community_name}"),
        (40, 325, 26, "#111", c.grid_name),
        (40, 365, 20, "#333", f"网格编码 {c.grid_code}"),
        (40, 470, 22, "#111", "扫码反映问题 · 查看办理进度"),
    ]


def _qr(c: Card, base: str) -> tuple[segno.QRCode, int]:
    """The QR code of the card's link, and the scale that draws it about `_QR_SIZE` px wide."""
    qr = segno.make(c.url(base), error="m")
    return qr, int(_QR_SIZE // qr.symbol_size(border=2)[0])


def svg(c: Card, base: str) -> str:
    """The card as a standalone SVG document."""
    qr, scale = _qr(c, base)
    side = qr.symbol_size(scale=scale, border=2)[0]
    text = "\n".join(
        f'<text x="{x}" y="{y}" font-size="{size}" fill="{fill}">{escape(line)}</text>'
        for x, y, size, fill, line in _lines(c)
    )
    code = qr.svg_inline(scale=scale, border=2, dark="#111", light="#fff", omitsize=False)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" \
viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(c.name)} 网格服务联系卡">
<rect width="{WIDTH}" height="{HEIGHT}" rx="24" fill="#fff" stroke="#c0392b" stroke-width="6"/>
<rect width="{WIDTH}" height="96" rx="24" fill="#c0392b"/>
<rect y="72" width="{WIDTH}" height="24" fill="#c0392b"/>
<g font-family="WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif">
{text}
</g>
<g transform="translate({WIDTH - side - 40}, {HEIGHT - side - 40})">{code}</g>
</svg>"""


@lru_cache(maxsize=8)
def _face(size: int) -> ImageFont.FreeTypeFont:
    """The label font at `size` px, opened once (each card draws several lines in a few sizes)."""
    return ImageFont.truetype(str(FONT_FILE), size)


def png(c: Card, base: str) -> bytes:
    """The card as a PNG, the same layout as `svg`."""
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, WIDTH - 1, HEIGHT - 1), 24, fill="white", outline="#c0392b", width=6)
    draw.rounded_rectangle((0, 0, WIDTH - 1, 96), 24, fill="#c0392b")
    draw.rectangle((0, 72, WIDTH - 1, 96), fill="#c0392b")
    for x, y, size, fill, line in _lines(c):
        draw.text((x, y), line, font=_face(size), fill=fill, anchor="ls")
    qr, scale = _qr(c, base)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=2, dark="#111", light="#fff")
    code = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    img.paste(code, (WIDTH - code.width - 40, HEIGHT - code.height - 40))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def print_page(cards: list[Card], base: str) -> str:
    """An A4 print page of cards (two per row), each an inline SVG, for a community office."""
    title = f"{escape(cards[0].community_name)} 网格服务联系卡"
    body = "\n".join(f'<figure class="card">{svg(c, base)}</figure>' for c in cards)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "WenQuanYi Micro Hei", sans-serif; margin: 12mm; }}
h1 {{ font-size: 16pt; }}
.cards {{ display: grid; grid-template-columns: repeat(2, 85.6mm); gap: 6mm; }}
.card {{ margin: 0; break-inside: avoid; }}
.card svg {{ width: 85.6mm; height: 54mm; }}
@media print {{ h1 {{ display: none; }} body {{ margin: 8mm; }} }}
</style></head>
<body><main><h1>{title}（{len(cards)} 张）</h1><div class="cards">
{body}
</div></main></body></html>"""

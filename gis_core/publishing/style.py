"""The map wall's MapLibre GL style, generated from the layer definitions.

No online basemap: a plain background and OneGrid's own vector layers. Fills are drawn
first (coarse layers under fine ones), then lines (roads under boundaries, coarser
boundaries on top), then points, so that a new layer file finds its place without code.
Names (symbol layers) come last, above everything, in OneGrid's own glyphs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gis_core.publishing.layers import Layer

_RANK = {"fill": 0, "line": 1, "circle": 2}
BACKGROUND = "#0b1d33"


def _draw_order(layer: Layer) -> tuple[int, int, str]:
    rank = _RANK.get(layer.style_type, 3)
    return rank, layer.minzoom if layer.style_type == "fill" else -layer.minzoom, layer.id


def wall_style(
    base_url: str, layers: Iterable[Layer], bounds: tuple[float, float, float, float] | None
) -> dict[str, Any]:
    """A MapLibre style (spec v8) of `layers`, each its own vector source on `base_url`."""
    ordered = sorted(layers, key=_draw_order)
    centre = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2] if bounds else [0.0, 0.0]
    return {
        "version": 8,
        "name": "OneGrid 指挥大屏",
        "center": centre,
        "zoom": 12,
        "glyphs": f"{base_url}/fonts/{{fontstack}}/{{range}}.pbf",
        "sources": {
            layer.id: {
                "type": "vector",
                "tiles": [f"{base_url}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.pbf"],
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                **({"bounds": list(bounds)} if bounds else {}),
                **({"promoteId": layer.promote_id} if layer.promote_id else {}),
            }
            for layer in ordered
        },
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}},
            *(
                {
                    "id": layer.id,
                    "type": layer.style_type,
                    "source": layer.id,
                    "source-layer": layer.id,
                    "minzoom": layer.minzoom,
                    "layout": {"visibility": "visible" if layer.visible else "none", **layer.layout},
                    **({"filter": layer.filter} if layer.filter else {}),
                    "paint": layer.paint,
                    "metadata": {
                        "onegrid:title_zh": layer.title_zh,
                        "onegrid:title_en": layer.title_en,
                        "onegrid:legend": list(layer.legend),
                    },
                }
                for layer in ordered
            ),
        ],
    }

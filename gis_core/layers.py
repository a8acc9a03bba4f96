"""Published map layers: the declarative `Layer` type and the registry of `layers/*.py`.

A layer file holds data, not code: its source table, geometry and key columns, the fields
it exposes, its zoom range, per-zoom simplification, style and Chinese/English legend. Tiles
(and later features, styles and legends) are built from these definitions, so a new layer is
a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gis_core.errors import NotFound


@dataclass(frozen=True)
class Layer:
    """One published layer."""

    id: str
    title_zh: str
    title_en: str
    table: str
    geometry_type: str  # point | line | polygon
    fields: tuple[str, ...]
    minzoom: int = 0
    maxzoom: int = 22
    key: str = "id"
    geometry: str = "geom"
    where: str = "true"  # fixed SQL condition on alias t, written in the layer file, never from input
    simplify_m: dict[int, float] = field(default_factory=dict)  # zoom → tolerance in metres (up to that zoom)
    paint: dict[str, Any] = field(default_factory=dict)
    legend: tuple[dict[str, str], ...] = ()

    def tolerance(self, z: int) -> float:
        """Simplification tolerance in metres at zoom `z` (0 = none)."""
        for zoom in sorted(self.simplify_m):
            if z <= zoom:
                return self.simplify_m[zoom]
        return 0.0


@lru_cache
def registry() -> dict[str, Layer]:
    """Every layer defined in the `layers` package, by id."""
    import layers

    out: dict[str, Layer] = {}
    for mod in pkgutil.iter_modules(layers.__path__):
        layer = getattr(importlib.import_module(f"layers.{mod.name}"), "LAYER", None)
        if isinstance(layer, Layer):
            if layer.id in out:
                raise ValueError(f"two layers are called {layer.id!r}")
            out[layer.id] = layer
    return out


def get_layer(layer_id: str) -> Layer:
    """The layer called `layer_id`; NotFound otherwise."""
    try:
        return registry()[layer_id]
    except KeyError:
        raise NotFound(
            f"no layer {layer_id!r}; layers: {', '.join(sorted(registry()))}", where="path.layer"
        ) from None

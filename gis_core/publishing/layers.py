"""Published map layers: the declarative `Layer` type and the registry of `layers/*.py`.

A layer file holds data, not code: its source (a table or a SELECT), geometry and key
columns, the fields it exposes and to whom, which personal fields are masked, whose rows a
reader may see, its zoom range, per-zoom simplification, point clustering below a zoom,
whether tiles are cached, style and Chinese/English legend. Tiles, OGC API Features,
spatial queries, the MapLibre style and legends are all built from these definitions, so a
new layer is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gis_core.platform.auth import DISTRICT_WIDE, FIELD, ROLES, User, known_roles
from gis_core.platform.errors import Forbidden, NotFound
from gis_core.platform.scope import jurisdiction_clause

#: Roles that see personal data unmasked: they visit, call and help the people concerned.
PII_ROLES = FIELD
#: SQL mask function per kind of personal field (same masks as `gis_core.platform.pii`).
MASKS = {"name": "mask_name", "phone": "mask_phone", "id_number": "mask_id_number"}
ROW_RULES = ("all", "jurisdiction", "incidents")
GEOMETRY_TYPES = ("point", "line", "polygon")


def quote_ident(ident: str) -> str:
    """A double-quoted SQL identifier; only letters, digits and underscores are accepted."""
    if not ident or not ident.replace("_", "").isalnum():
        raise ValueError(f"bad identifier in a layer definition: {ident!r}")
    return f'"{ident}"'


@dataclass(frozen=True)
class Layer:
    """One published layer."""

    id: str
    title_zh: str
    title_en: str
    geometry_type: str  # point | line | polygon
    fields: tuple[str, ...]
    table: str | None = None
    sql: str | None = None  # a fixed SELECT (written in the layer file) used instead of a table
    key: str = "id"
    geometry: str = "geom"
    where: str = "true"  # fixed SQL condition on alias t, written in the layer file, never from input
    minzoom: int = 0
    maxzoom: int = 22
    roles: tuple[str, ...] = ROLES  # who may read the layer at all
    field_roles: dict[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # field → the only roles that see it
    pii: dict[str, str] = field(default_factory=dict)  # field → mask kind (name | phone | id_number)
    pii_roles: tuple[str, ...] = PII_ROLES  # who sees `pii` fields unmasked
    # pii fields stored sealed (gis_core.platform.sealed_columns): opened in Python for a feature,
    # never put in a tile (which is built in SQL, cached and shared)
    sealed: tuple[str, ...] = ()
    rows: str = "all"  # all | jurisdiction (the reader's area) | incidents (the incident rules)
    simplify_m: dict[int, float] = field(default_factory=dict)  # zoom → tolerance in metres (up to that zoom)
    cluster_below: int | None = None  # points are clustered (with counts) at zooms below this
    datetime: str | None = None  # timestamp column for OGC API `datetime`
    cache: bool = False  # keep rendered tiles in the server's cache (layers that change rarely)
    watch: tuple[str, ...] = ()  # tables whose changes touch this layer (default: `table`)
    visible: bool = True  # shown when the wall opens (alternatives to another layer start hidden)
    paint: dict[str, Any] = field(default_factory=dict)
    legend: tuple[dict[str, str], ...] = ()
    layout: dict[str, Any] = field(
        default_factory=dict
    )  # MapLibre layout beyond visibility (a symbol's text)
    filter: list[Any] | None = None  # MapLibre filter of the drawn features (an expression; zoom allowed)
    promote_id: str | None = None  # a field the map uses as the feature's id (feature state keyed by it)

    def __post_init__(self) -> None:
        if (self.table is None) == (self.sql is None):
            raise ValueError(f"layer {self.id!r}: give exactly one of table and sql")
        for ident in (
            self.id,
            self.key,
            self.geometry,
            *self.fields,
            *self.watched,
            *(self.datetime or "x",),
        ):
            quote_ident(ident)
        if self.geometry_type not in GEOMETRY_TYPES or self.rows not in ROW_RULES:
            raise ValueError(f"layer {self.id!r}: bad geometry_type or rows")
        if not set(self.pii) <= set(self.fields) or not set(self.pii.values()) <= set(MASKS):
            raise ValueError(f"layer {self.id!r}: pii must map its own fields to one of {sorted(MASKS)}")
        if not set(self.sealed) <= set(self.pii):
            raise ValueError(f"layer {self.id!r}: only pii fields can be sealed")
        known_roles(self.roles, f"layer {self.id!r} roles")
        known_roles(self.pii_roles, f"layer {self.id!r} pii_roles")
        for name, roles in self.field_roles.items():
            known_roles(roles, f"layer {self.id!r} field_roles[{name!r}]")

    @property
    def source(self) -> str:
        """The FROM item: the table, or the layer's SELECT as a subquery."""
        return quote_ident(self.table) if self.table else f"({self.sql})"

    @property
    def watched(self) -> tuple[str, ...]:
        """Tables whose changes invalidate this layer's cached tiles."""
        return self.watch or ((self.table,) if self.table else ())

    @property
    def style_type(self) -> str:
        """The MapLibre layer type its paint is written for (fill, line, circle, or symbol for text)."""
        kind = next(iter(self.paint), "line-").split("-")[0]
        return "symbol" if kind in ("text", "icon") else kind

    def tolerance(self, z: int) -> float:
        """Simplification tolerance in metres at zoom `z` (0 = none)."""
        for zoom in sorted(self.simplify_m):
            if z <= zoom:
                return self.simplify_m[zoom]
        return 0.0

    def clustered(self, z: int) -> bool:
        """True when points are shown as clusters at zoom `z`."""
        return self.cluster_below is not None and z < self.cluster_below

    def readable_by(self, user: User) -> bool:
        """True when `user`'s role may read this layer."""
        return user.role in self.roles

    def check_readable(self, user: User) -> None:
        """Forbidden unless `user` may read this layer."""
        if not self.readable_by(user):
            raise Forbidden(f"role {user.role!r} may not read layer {self.id!r}", where="path.layer")

    def visible_fields(self, user: User, in_tiles: bool = False) -> tuple[str, ...]:
        """The fields `user` sees (in a tile: no sealed ones)."""
        return tuple(
            f
            for f in self.fields
            if user.role in self.field_roles.get(f, ROLES) and not (in_tiles and f in self.sealed)
        )

    def columns(self, user: User, in_tiles: bool = False) -> list[tuple[str, str]]:
        """(name, SQL expression on alias t) of each field `user` sees, personal data masked.

        A sealed field's expression is its sealed value, which `reveal` opens (and masks).
        """
        out = []
        for f in self.visible_fields(user, in_tiles):
            expr = f"t.{quote_ident(f)}"
            if f in self.sealed:
                expr = f"t.{quote_ident(f + '_sealed')}"
            elif f in self.pii and user.role not in self.pii_roles:
                expr = f"{MASKS[self.pii[f]]}({expr}::text)"
            out.append((f, expr))
        return out

    def reveal(self, user: User, props: dict[str, Any]) -> None:
        """Open the sealed fields of one feature's `props` in place; masked unless `user` may see them."""
        if not self.sealed:
            return
        from gis_core.platform import pii
        from gis_core.platform.sealing import sealer

        opener = sealer()
        for f in self.sealed:
            if f in props:
                value = opener.open(props[f])
                props[f] = value if user.role in self.pii_roles else getattr(pii, MASKS[self.pii[f]])(value)

    def row_filter(self, user: User, params: dict[str, Any]) -> str:
        """SQL condition on alias t: the layer's own condition and the rows `user` may read."""
        if self.rows == "incidents":
            from gis_core.incidents.queries import scope_clause

            scope = scope_clause(user, params, alias="t")
        elif self.rows == "jurisdiction":
            scope = jurisdiction_clause(user, "t", params)
        else:
            scope = "true"
        return f"({self.where}) AND {scope}"

    def view_key(self, user: User) -> tuple[Any, ...]:
        """What makes two readers' tiles of this layer differ: their columns and their rows."""
        cols = tuple(expr for _, expr in self.columns(user))
        if self.rows == "all" or (self.rows == "jurisdiction" and user.role in DISTRICT_WIDE):
            return (cols,)
        return (cols, user.role, user.id)


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


def get_layer(layer_id: str, where: str = "path.layer") -> Layer:
    """The layer called `layer_id`; NotFound otherwise."""
    try:
        return registry()[layer_id]
    except KeyError:
        raise NotFound(
            f"no layer {layer_id!r}; layers: {', '.join(sorted(registry()))}", where=where
        ) from None


def readable_layers(user: User) -> list[Layer]:
    """The layers `user` may read, in id order."""
    return [layer for _, layer in sorted(registry().items()) if layer.readable_by(user)]

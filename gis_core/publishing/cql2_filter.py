"""CQL2 filters (OGC API Features Part 3) on a layer's items, compiled to parameterised SQL.

The `cql2` package (developmentseed's Rust parser) reads CQL2 text and JSON into one JSON
tree and checks it against the standard's schema; this module walks that tree and writes a
WHERE condition on alias `t`. Property names resolve only to the fields the reader sees
(their masked expressions where data is personal) and the layer's geometry; every literal
is a bound parameter; each comparison is checked for matching types first, so a mistake is
a 400 problem naming where, never a database error.

The parser recurses on nesting and crashes the process when it is thousands deep, so a
filter's nesting is bounded before it is parsed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import cql2
import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.geo.crs import to_wgs84, valid_lonlat
from gis_core.platform.auth import User
from gis_core.platform.errors import InvalidInput
from gis_core.publishing.layers import Layer, quote_ident
from gis_core.publishing.output_crs import OutputCrs

MAX_CHARS = 20_000
#: Opening brackets, NOTs and unary minus signs allowed in one filter: far above any real filter,
#: far below the depth at which the parser's recursion overflows its stack (about 2,000).
MAX_NESTING = 400
GEOMETRY_NAMES = ("geometry", "geom")
#: `cql-text` is the draft's name for CQL2 text, which GDAL 3.6 (Debian 12) still sends.
LANGS = ("cql2-text", "cql2-json", "cql-text")

#: PostgreSQL type OIDs → the queryable's JSON Schema type and the kind compared.
_KINDS = {
    16: "boolean",
    20: "integer", 21: "integer", 23: "integer",
    700: "number", 701: "number", 1700: "number",
    18: "string", 19: "string", 25: "string", 1042: "string", 1043: "string", 2950: "string",
    1082: "date", 1114: "timestamp", 1184: "timestamp",
}  # fmt: skip
_COMPARABLE = {"integer": "number", "date": "time", "timestamp": "time"}
_COMPARISON = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = {
    "s_intersects": "ST_Intersects({a}, {b})",
    "s_disjoint": "NOT ST_Intersects({a}, {b})",
    "s_within": "ST_Within({a}, {b})",
    "s_contains": "ST_Contains({a}, {b})",
    "s_touches": "ST_Touches({a}, {b})",
    "s_crosses": "ST_Crosses({a}, {b})",
    "s_overlaps": "ST_Overlaps({a}, {b})",
    "s_equals": "ST_Equals({a}, {b})",
}
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/"}
_POSITION = re.compile(r"-->\s*(\d+):(\d+)")


@dataclass(frozen=True)
class Filter:
    """A parsed filter: the CQL2 JSON tree, the text it came from (for positions) and its CRS."""

    tree: Any
    text: str | None = None
    crs: OutputCrs | None = None


def _nesting(text: str) -> int:
    """Opening brackets, NOT keywords and unary minus signs outside quoted strings.

    A minus sign directly before a digit is a negative number's (a coordinate's), not a level.
    """
    unquoted = re.sub(r"'(?:[^']|'')*'", "''", text)
    return (
        unquoted.count("(")
        + unquoted.count("[")
        + unquoted.count("{")
        + len(re.findall(r"-(?![\d.])", unquoted))
        + len(re.findall(r"\bnot\b", unquoted, re.IGNORECASE))
    )


def parse(text: str, lang: str | None, crs: OutputCrs | None = None, where: str = "query.filter") -> Filter:
    """A `filter` parameter in `cql2-text` (default) or `cql2-json` → a checked Filter."""
    lang = "cql2-text" if lang in (None, "cql-text") else lang
    if lang not in LANGS:
        raise InvalidInput(f"filter-lang must be one of {', '.join(LANGS)}", where="query.filter-lang")
    if len(text) > MAX_CHARS:
        raise InvalidInput(f"a filter is at most {MAX_CHARS:,} characters", where=where)
    if _nesting(text) > MAX_NESTING:
        raise InvalidInput(f"a filter nests at most {MAX_NESTING} levels", where=where)
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        expr.validate()
        tree = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        message = str(exc).strip()
        m = _POSITION.search(message)
        extra = {"position": int(m.group(2))} if m and lang == "cql2-text" else {}
        summary = message.splitlines()[-1].lstrip("= ").strip() if m else message[:300]
        at = f" at character {extra['position']}" if extra else ""
        raise InvalidInput(f"not a valid {lang} filter{at}: {summary}", where=where, **extra) from None
    return Filter(tree, text if lang == "cql2-text" else None, crs)


_KIND_CACHE: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}


def field_kinds(conn: sa.Connection, layer: Layer, user: User) -> dict[str, tuple[str, str]]:
    """Each field the reader may filter on: name → (SQL expression on t, kind).

    Kinds come from the database's own types of the layer's expressions (read once per layer
    and role); sealed fields (ciphertext) and types CQL2 cannot compare are left out.
    """
    key = (layer.id, user.role)
    if key not in _KIND_CACHE:
        cols = [(n, e) for n, e in layer.columns(user) if n not in layer.sealed]
        select = ", ".join(f"{e} AS {quote_ident(n)}" for n, e in cols) or "1"
        # expressions and source come from the layer files, never from a request
        result = conn.execute(sa.text(f"SELECT {select} FROM {layer.source} t LIMIT 0"))  # noqa: S608
        oids = [d[1] for d in result.cursor.description] if cols else []
        result.close()
        _KIND_CACHE[key] = {
            n: (e, _KINDS[oid]) for (n, e), oid in zip(cols, oids, strict=True) if oid in _KINDS
        }
    return _KIND_CACHE[key]


def queryables(conn: sa.Connection, layer: Layer, user: User, url: str) -> dict[str, Any]:
    """The layer's queryables as a JSON Schema (Part 3): what a filter may name, and its type."""
    geometry = {"point": "Point", "line": "LineString", "polygon": "Polygon"}[layer.geometry_type]
    props: dict[str, Any] = {
        "geometry": {"title": "geometry", "format": f"geometry-{geometry.lower()}",
                     "$ref": f"https://geojson.org/schema/{geometry}.json"},
    }  # fmt: skip
    for name, (_, kind) in field_kinds(conn, layer, user).items():
        props[name] = {"title": name, **_schema(kind)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": layer.title_zh,
        "properties": props,
        "additionalProperties": False,
        # the draft's list, which GDAL 3.6 reads to decide which names it may send in a filter
        "queryables": [{"id": name, "type": p.get("type", "geometry")} for name, p in props.items()],
    }


def _schema(kind: str) -> dict[str, str]:
    if kind == "timestamp":
        return {"type": "string", "format": "date-time"}
    if kind == "date":
        return {"type": "string", "format": "date"}
    return {"type": kind}


@dataclass
class _Compiler:
    """Writes one filter tree as SQL on alias t, with its literals in `params`."""

    fields: dict[str, tuple[str, str]]
    geom: str
    params: dict[str, Any]
    f: Filter
    n: int = field(default=0)

    def fail(self, message: str, name: str | None = None) -> InvalidInput:
        extra: dict[str, Any] = {}
        if name and self.f.text:
            m = re.search(rf"(?<![\w']){re.escape(name)}(?![\w'])", self.f.text)
            if m:
                extra["position"] = m.start() + 1
        return InvalidInput(message, where="query.filter", **extra)

    def bind(self, value: Any) -> str:
        self.n += 1
        self.params[f"cql{self.n}"] = value
        return f":cql{self.n}"

    # ------------------------------------------------------------- conditions

    def cond(self, node: Any) -> str:
        if isinstance(node, bool):
            return "true" if node else "false"
        if not isinstance(node, dict) or "op" not in node:
            raise self.fail(f"a condition is needed here, not {json.dumps(node)[:80]}")
        op, args = str(node["op"]).lower(), node.get("args") or []
        if op in ("and", "or"):
            return "(" + f" {op.upper()} ".join(self.cond(a) for a in args) + ")"
        if op == "not":
            return f"(NOT {self.cond(args[0])})"
        if op in _COMPARISON:
            (a, ka), (b, kb) = self.value(args[0]), self.value(args[1], args[0])
            self.same(ka, kb, args)
            return f"({a} {_COMPARISON[op]} {b})"
        if op == "like":
            (a, ka), (b, kb) = self.value(args[0]), self.value(args[1], args[0])
            self.same(ka, "string", args)
            self.same(kb, "string", args)
            return f"({a} LIKE {b})"
        if op == "between":
            a, ka = self.value(args[0])
            (lo, kl), (hi, kh) = self.value(args[1], args[0]), self.value(args[2], args[0])
            self.same(ka, kl, args)
            self.same(ka, kh, args)
            return f"({a} BETWEEN {lo} AND {hi})"
        if op == "in":
            a, ka = self.value(args[0])
            if not isinstance(args[1], list) or not args[1]:
                raise self.fail("IN needs a non-empty list")
            items = [self.value(v, args[0]) for v in args[1]]
            for _, k in items:
                self.same(ka, k, args)
            return f"({a} IN ({', '.join(s for s, _ in items)}))"
        if op == "isnull":
            return f"({self.value(args[0])[0]} IS NULL)"
        if op in _SPATIAL:
            return _SPATIAL[op].format(a=self.geometry(args[0]), b=self.geometry(args[1]))
        if op.startswith("t_"):
            return self.temporal(op, args)
        raise self.fail(f"operator {op!r} is not supported here")

    def same(self, a: str, b: str, args: Any) -> None:
        if _COMPARABLE.get(a, a) != _COMPARABLE.get(b, b):
            names = [x["property"] for x in args if isinstance(x, dict) and "property" in x]
            subject = names[0] if names else None
            raise self.fail(f"cannot compare {a} with {b}" + (f" (property {subject!r})" if subject else ""),
                            subject)  # fmt: skip

    # ------------------------------------------------------------- values

    def value(self, node: Any, other: Any = None) -> tuple[str, str]:
        """(SQL, kind) of a scalar: a property, a literal or an expression of them."""
        if isinstance(node, bool):
            return self.bind(node), "boolean"
        if isinstance(node, int | float):
            return self.bind(node), "number"
        if isinstance(node, str):
            return self.bind(node), "string"
        if isinstance(node, dict):
            if "property" in node:
                return self.prop(node["property"])
            if "timestamp" in node:
                return self.bind(self.instant(node["timestamp"])), "timestamp"
            if "date" in node:
                return self.bind(self.instant(node["date"])), "date"
            op = str(node.get("op", "")).lower()
            if op == "casei":
                a, k = self.value(node["args"][0])
                self.same(k, "string", node["args"])
                return f"lower({a})", "string"
            if op in _ARITHMETIC:
                (a, ka), (b, kb) = self.value(node["args"][0]), self.value(node["args"][1])
                self.same(ka, "number", node["args"])
                self.same(kb, "number", node["args"])
                return f"({a} {_ARITHMETIC[op]} {b})", "number"
        raise self.fail(f"{json.dumps(node)[:80]} is not a value this server compares")

    def prop(self, name: str) -> tuple[str, str]:
        if name in self.fields:
            return self.fields[name]
        if name in GEOMETRY_NAMES:
            raise self.fail(f"{name!r} is a geometry: use a spatial function such as S_INTERSECTS", name)
        raise self.fail(f"unknown property {name!r}; queryables: {', '.join(self.fields)}", name)

    def instant(self, text: str) -> datetime | date:
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(f"{text!r} is not an RFC 3339 date or date-time") from None

    # ------------------------------------------------------------- spatial and temporal

    def geometry(self, node: Any) -> str:
        if isinstance(node, dict) and node.get("property") in GEOMETRY_NAMES:
            return self.geom
        if isinstance(node, dict) and "property" in node:
            raise self.fail(f"{node['property']!r} is not the geometry", node["property"])
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            corners = (box[0], box[1], box[2], box[3]) if len(box) == 4 else (box[0], box[1], box[3], box[4])
            geom = shapely.box(*corners)
        elif isinstance(node, dict) and "type" in node:
            try:
                geom = shapely.geometry.shape(node)
            except Exception as exc:  # noqa: BLE001 - shapely raises many kinds for malformed input
                raise self.fail(f"not a geometry: {exc}") from None
        else:
            raise self.fail(f"a geometry is needed here, not {json.dumps(node)[:80]}")
        geom = self.to_wgs84(geom)
        if not geom.is_valid:
            raise self.fail(f"invalid geometry in the filter: {shapely.is_valid_reason(geom)}")
        return f"ST_GeomFromWKB({self.bind(shapely.to_wkb(geom))}, 4326)"

    def to_wgs84(self, geom: shapely.Geometry) -> shapely.Geometry:
        crs = self.f.crs
        if crs is not None and not crs.is_crs84:
            x, y = (1, 0) if crs.northing_first else (0, 1)
            geom = shapely.transform(geom, lambda c: np.column_stack(to_wgs84(c[:, x], c[:, y], crs.spec)))
        if not all(valid_lonlat(x, y) for x, y in shapely.get_coordinates(geom)):
            raise self.fail("filter geometry coordinates must be longitude/latitude (or give filter-crs)")
        return geom

    def temporal(self, op: str, args: list[Any]) -> str:
        """Temporal predicates between an instant-valued property and an instant or interval."""
        (a, ka) = self.value(args[0])
        self.same(ka, "timestamp", args)
        b = args[1]
        if isinstance(b, dict) and "interval" in b:
            start, end = (None if v == ".." else self.bind(self.instant(v)) for v in b["interval"])
        else:
            s, kb = self.value(b)
            self.same(kb, "timestamp", args)
            start = end = s

        def between(lo: str, hi: str) -> str:
            parts = [f"{a} {lo} {start}"] if start else []
            return " AND ".join(parts + ([f"{a} {hi} {end}"] if end else [])) or "true"

        rules = {
            "t_intersects": between(">=", "<="),
            "t_disjoint": f"NOT ({between('>=', '<=')})",
            "t_during": between(">", "<"),
            "t_before": f"{a} < {start}" if start else "false",
            "t_after": f"{a} > {end}" if end else "false",
            "t_equals": f"{a} = {start}" if start and start == end else "false",
        }
        if op not in rules:
            raise self.fail(f"{op.upper()} needs intervals; this layer's times are instants")
        return f"({a} IS NOT NULL AND ({rules[op]}))"


def compile_filter(f: Filter, fields: dict[str, tuple[str, str]], geom: str, params: dict[str, Any]) -> str:
    """The filter as a SQL condition on alias t; its literals are added to `params`."""
    return _Compiler(fields, geom, params, f).cond(f.tree)

"""Which columns are sealed (`gis_core.platform.sealing`), and the whole-table passes over them.

A sealed field `f` of a table is stored as `f_sealed` (to read back) and `f_digest` (to match
exactly); the clear `f` column does not exist. The passes here seal a table's clear columns
(the migration that introduced sealing), open them again (its downgrade), and re-seal every
value under the newest key (`onegrid pii rotate`), in batches so that memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from gis_core.platform.sealing import Sealer

#: table → its sealed fields
SEALED: dict[str, tuple[str, ...]] = {"person": ("id_number", "phone"), "hotline_case": ("caller_phone",)}

BATCH = 5_000


def sealed_names(fields: Sequence[str]) -> list[str]:
    """The stored columns of `fields`: each one's sealed value and digest."""
    return [c for f in fields for c in (f"{f}_sealed", f"{f}_digest")]


def seal_rows(
    sealer: Sealer, columns: Sequence[str], rows: Iterable[Sequence[Any]], fields: Sequence[str]
) -> tuple[list[str], Iterable[tuple[Any, ...]]]:
    """`rows` of `columns` with each of `fields` replaced by its sealed value and digest, in place."""
    at = {columns.index(f) for f in fields}
    out_cols = [n for i, c in enumerate(columns) for n in (sealed_names([c]) if i in at else [c])]

    def sealed(row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(x for i, v in enumerate(row) for x in (sealer.seal_and_digest(v) if i in at else (v,)))

    return out_cols, (sealed(r) for r in rows)


def _batches(conn: sa.Connection, table: str, cols: Sequence[str]) -> Iterable[list[sa.RowMapping]]:
    last = 0
    select = sa.text(
        f"SELECT id, {', '.join(cols)} FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}"  # noqa: S608 - SEALED's names
    )
    while rows := conn.execute(select, {"last": last}).mappings().all():
        yield list(rows)
        last = rows[-1]["id"]


def _rewrite(
    conn: sa.Connection,
    table: str,
    read: Sequence[str],
    write: Sequence[str],
    change: Callable[[sa.RowMapping], Sequence[Any]],
) -> int:
    """Set `write` columns of every row from `change(row of read columns)`; returns rows."""
    n = 0
    sets = ", ".join(f"{c} = v.{c}" for c in write)
    arrays = ", ".join(f"unnest(CAST(:{c} AS {_array_type(c)})) AS {c}" for c in write)
    update = sa.text(
        f"UPDATE {table} t SET {sets} FROM (SELECT unnest(CAST(:ids AS bigint[])) AS id, {arrays}) v "  # noqa: S608
        "WHERE t.id = v.id"
    )
    for rows in _batches(conn, table, read):
        values = [change(r) for r in rows]
        params: dict[str, Any] = {"ids": [r["id"] for r in rows]}
        for i, c in enumerate(write):
            params[c] = [v[i] for v in values]
        conn.execute(update, params)
        n += len(rows)
    return n


def _array_type(column: str) -> str:
    return "bytea[]" if column.endswith(("_sealed", "_digest")) else "text[]"


def seal_clear(conn: sa.Connection, sealer: Sealer, table: str) -> int:
    """Fill the sealed columns of `table` from its clear ones (which the caller then drops)."""
    fields = SEALED[table]
    return _rewrite(
        conn,
        table,
        fields,
        sealed_names(fields),
        lambda r: [x for f in fields for x in sealer.seal_and_digest(r[f])],
    )


def open_to_clear(conn: sa.Connection, sealer: Sealer, table: str) -> int:
    """Fill the clear columns of `table` from its sealed ones (the way back)."""
    fields = SEALED[table]
    sealed = [f"{f}_sealed" for f in fields]
    return _rewrite(conn, table, sealed, fields, lambda r: [sealer.open(r[c]) for c in sealed])


def rotate(conn: sa.Connection, sealer: Sealer) -> dict[str, int]:
    """Re-seal every sealed value under the newest key and digest it under the current digest key."""
    out = {}
    for table, fields in SEALED.items():

        def fresh(r: sa.RowMapping, fields: tuple[str, ...] = fields) -> list[Any]:
            values = [sealer.open(r[f"{f}_sealed"]) for f in fields]
            return [x for v in values for x in sealer.seal_and_digest(v)]

        out[table] = _rewrite(conn, table, [f"{f}_sealed" for f in fields], sealed_names(fields), fresh)
    return out

"""Bulk loading with COPY: rows stream to PostgreSQL in chunks, never one INSERT per row."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(v: Any) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, str):
        return v.translate(_ESCAPES)
    if isinstance(v, bytes):
        return "\\\\x" + v.hex()  # bytea's hex input, its backslash escaped for COPY's text format
    return str(v)


def copy_rows(
    dbapi_conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], chunk: int = 50_000
) -> int:
    """COPY `rows` into `table(columns)` in text format; returns the number of rows."""
    lines = ("\t".join(_field(v) for v in row) + "\n" for row in rows)
    return copy_lines(dbapi_conn, table, columns, lines, chunk)


def copy_lines(
    dbapi_conn: Any, table: str, columns: Sequence[str], lines: Iterable[str], chunk: int = 50_000
) -> int:
    """COPY pre-formatted text-format lines (each ending in a newline); returns the count.

    `table` and `columns` are identifiers from our own code, never user input; they are
    quoted all the same.
    """
    target = f'"{table}" (' + ", ".join(f'"{c}"' for c in columns) + ")"
    n = 0
    buf = io.StringIO()
    with dbapi_conn.cursor() as cur:
        for line in lines:
            buf.write(line)
            n += 1
            if n % chunk == 0:
                buf.seek(0)
                cur.copy_expert(f"COPY {target} FROM STDIN", buf)
                buf = io.StringIO()
        if buf.tell():
            buf.seek(0)
            cur.copy_expert(f"COPY {target} FROM STDIN", buf)
    return n

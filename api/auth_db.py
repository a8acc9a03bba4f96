"""Transactions on the auth connection, after which this process forgets what they revoked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from fastapi import Request

from gis_core.platform.auth import REVOKED


@contextmanager
def auth_transaction(request: Request) -> Iterator[sa.Connection]:
    """A transaction of the account and token tables (the tables' owner, not the request role).

    Tokens and keys it revoked are dropped from this process's token cache once it commits, before
    the answer goes out; other processes drop them on the NOTIFY (`gis_core.platform.auth`).
    """
    with request.app.state.auth_engine.begin() as conn:
        try:
            yield conn
        finally:
            revoked = conn.info.pop(REVOKED, [])
    for digest in revoked:  # reached only after the commit
        request.app.state.token_cache.forget(digest)

"""Account safety checks that run at start-up."""

from __future__ import annotations

import sqlalchemy as sa

from gis_core.platform.auth import _hasher

DEMO_PASSWORD = "onegrid-demo"
"""The demo accounts' published password; refused outside demo mode."""


class DefaultSecretError(RuntimeError):
    """Demo accounts with the published demo password exist outside demo mode."""


def refuse_demo_passwords(conn: sa.Connection) -> None:
    """Raise if any account still has the published demo password (outside demo mode)."""
    rows = conn.execute(
        sa.text("SELECT username, password_hash FROM app_user WHERE password_hash IS NOT NULL")
    )
    weak = [r.username for r in rows if _hasher().verify(DEMO_PASSWORD, r.password_hash)]
    if weak:
        raise DefaultSecretError(
            f"accounts {weak} still use the demo password; change them or set ONEGRID_DEMO_MODE=true"
        )

"""The whole domain model of DESIGN.md: hierarchy, anchored entities, workflow, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

from gis_core.db import sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _run(name: str) -> None:
    # Through the driver directly: the SQL holds format() patterns and casts that
    # SQLAlchemy's text() would read as bind parameters.
    with op.get_bind().connection.driver_connection.cursor() as cur:
        cur.execute(sql_file(name))


def upgrade() -> None:
    _run("schema_0001.sql")


def downgrade() -> None:
    _run("schema_0001_down.sql")

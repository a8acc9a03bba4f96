"""Snap-and-report: merged state, deadlines, suspension, duplicates, boundary units, photo order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0002.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0002_down.sql")

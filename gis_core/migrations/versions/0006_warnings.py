"""Warnings: their timeline, and the cold-chain readings a rule watches.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0006.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0006_down.sql")

"""The caller's reach computed once per transaction, and the duplicate search planned once per session.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0011.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0011_down.sql")

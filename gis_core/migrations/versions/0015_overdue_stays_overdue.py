"""Overdue at district level stays overdue: repaired deadlines, one cause key for overdue warnings.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0015.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0015_down.sql")

"""track_point's worker check once per statement (bulk uploads) instead of a row-by-row foreign key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0010.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0010_down.sql")

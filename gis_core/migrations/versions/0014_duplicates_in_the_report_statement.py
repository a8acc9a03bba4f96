"""A report and its possible duplicates stored in one statement: the duplicate search as a set function.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0014.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0014_down.sql")

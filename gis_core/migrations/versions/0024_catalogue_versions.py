"""The catalogue as data: each item's versions kept; an incident keeps the version it was reported under.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0024.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0024_down.sql")

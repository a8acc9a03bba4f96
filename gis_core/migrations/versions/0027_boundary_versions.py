"""Boundary versions: every outline with when it was valid, who changed it and why.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0027.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0027_down.sql")

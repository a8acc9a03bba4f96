"""Joint handling across a boundary: both sides read a flagged report, each finishes its share.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0019.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0019_down.sql")

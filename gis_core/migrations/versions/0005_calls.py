"""Point-calls: calls of workers to a point, their tasks, arrivals from tracks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0005.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0005_down.sql")

"""Live events: what the map wall is told as it happens (SSE), appended by triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0007.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0007_down.sql")

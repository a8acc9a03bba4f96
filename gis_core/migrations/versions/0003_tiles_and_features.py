"""Tiles and features: PII masks in SQL, camera wedges, last positions, tile change notices.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0003.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0003_down.sql")

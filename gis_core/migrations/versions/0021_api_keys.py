"""API keys: named, long-lived tokens their owner lists and revokes (HTTP Basic for GIS clients).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0021.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0021_down.sql")

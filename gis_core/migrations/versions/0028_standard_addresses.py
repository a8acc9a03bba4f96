"""Standard addresses (一标三实): roads, door plates, buildings, units and rooms; aliases.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0028.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0028_down.sql")

"""Shops and units (商户/单位) pinned to grids; party organisations and units announce tile changes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0020.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0020_down.sql")

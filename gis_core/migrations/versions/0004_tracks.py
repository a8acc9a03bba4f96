"""Tracks: fixes refused by the track filter, kept apart from the trajectories.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0004.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0004_down.sql")

"""Spatial indexes usable under row-level security: PostGIS's `&&`, ST_DWithin, ST_Intersects LEAKPROOF.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "postgis_leakproof.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "postgis_leakproof_down.sql")

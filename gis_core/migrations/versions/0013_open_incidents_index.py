"""Open incidents' own geometry index: low-zoom tiles of the open-incidents layer skip closed ones.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0013.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0013_down.sql")

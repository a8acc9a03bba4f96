"""Rate limits shared by every process and host, counted in PostgreSQL.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0030.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0030_down.sql")

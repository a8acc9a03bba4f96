"""Track check: grid workers' reports checked against their own track.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0008.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0008_down.sql")

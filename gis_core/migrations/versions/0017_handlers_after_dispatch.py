"""Department handlers read the incidents dispatched to their department, not every report of it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0017.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0017_down.sql")

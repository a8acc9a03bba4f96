"""The four ends of the loop: sub-tasks (拆分), idempotent actions, key-point check-ins, richer live events.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0022.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0022_down.sql")

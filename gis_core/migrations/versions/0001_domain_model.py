"""The whole domain model of DESIGN.md: hierarchy, anchored entities, workflow, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0001.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0001_down.sql")

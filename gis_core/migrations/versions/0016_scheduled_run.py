"""Scheduled work runs once per interval for the deployment, not in every worker.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0016.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0016_down.sql")

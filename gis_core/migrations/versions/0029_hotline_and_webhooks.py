"""Hotline cases and their manual-location queue; webhook subscriptions and the delivery outbox.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0029.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0029_down.sql")

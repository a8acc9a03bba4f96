"""Accounts without the demo: a password to change at first login, and the admin log.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0023.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0023_down.sql")

"""Jurisdiction in the database: the request role, row-level security, the personal-data audit log.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "request_role.sql")
    execute_sql_file(op.get_bind(), "schema_0009.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0009_down.sql")

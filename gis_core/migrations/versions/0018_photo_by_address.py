"""A photo is looked up by its content address, to serve it only to readers of its incident.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0018.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0018_down.sql")

"""Single sign-on: logins under way, and accounts an OpenID Connect provider vouches for.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0026.sql")


def downgrade() -> None:
    execute_sql_file(op.get_bind(), "schema_0026_down.sql")

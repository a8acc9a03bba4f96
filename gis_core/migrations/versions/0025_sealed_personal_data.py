"""Residents' ID numbers and phones sealed at rest, found by a keyed digest.

The database cannot encrypt with keys it never sees, so the rows are sealed here, in Python,
between the SQL that adds the sealed columns and the SQL that drops the clear ones.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04
"""

from alembic import op

from gis_core.platform.db import execute_sql_file
from gis_core.platform.sealed_columns import open_to_clear, seal_clear
from gis_core.platform.sealing import sealer

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    execute_sql_file(conn, "schema_0025.sql")
    seal_clear(conn, sealer(), "person")
    execute_sql_file(conn, "schema_0025_finish.sql")


def downgrade() -> None:
    conn = op.get_bind()
    execute_sql_file(conn, "schema_0025_down.sql")
    open_to_clear(conn, sealer(), "person")
    execute_sql_file(conn, "schema_0025_down_finish.sql")

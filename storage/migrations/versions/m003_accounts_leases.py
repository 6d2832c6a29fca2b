"""m003 accounts and leases: disabled accounts, closed studies, released assignments

Revision ID: m003_accounts_leases
Revises: m002_studies
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m003_accounts_leases"
down_revision = "m002_studies"
branch_labels = None
depends_on = None

COLUMNS = (("users", "disabled_at"), ("studies", "closed_at"), ("assignments", "released_at"))


def upgrade() -> None:
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite has it since 3.35): a batch rebuild of
    # `users` would trip the foreign keys that point at it.
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

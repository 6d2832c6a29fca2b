"""m005 backend: each sentence version records the generation backend that wrote it

Revision ID: m005_backend
Revises: m004_security
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m005_backend"
down_revision = "m004_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this revision were all written in-process; they read as {} (unknown).
    op.add_column("nodes", sa.Column("backend", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.execute("ALTER TABLE nodes DROP COLUMN backend")  # not a batch rebuild: see m003

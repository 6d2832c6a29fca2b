"""m012 coherence: each sentence version keeps the coherence reranker's score of each candidate

Revision ID: m012_coherence
Revises: m011_storyline
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m012_coherence"
down_revision = "m011_storyline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Versions written before this revision were chosen without a reranker; they read as [] (no scores).
    op.add_column("nodes", sa.Column("coherence", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    op.execute("ALTER TABLE nodes DROP COLUMN coherence")  # not a batch rebuild: see m003

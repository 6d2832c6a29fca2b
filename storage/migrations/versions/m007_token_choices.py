"""m007 token choices: each sentence version keeps its tokens with their probabilities and runners-up

Revision ID: m007_token_choices
Revises: m006_shared_state
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m007_token_choices"
down_revision = "m006_shared_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Versions written before this revision recorded no tokens; they read as [] (none).
    op.add_column("nodes", sa.Column("tokens", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    op.execute("ALTER TABLE nodes DROP COLUMN tokens")  # not a batch rebuild: see m003

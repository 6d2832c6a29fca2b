"""m008 memory: each story keeps a memory and an author's note; each sentence version records them

Revision ID: m008_memory
Revises: m007_token_choices
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m008_memory"
down_revision = "m007_token_choices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stories written before this revision have neither; their sentences read as steered by nothing ({}).
    op.add_column("stories", sa.Column("memory", sa.Text(), nullable=False, server_default=""))
    op.add_column("stories", sa.Column("authors_note", sa.Text(), nullable=False, server_default=""))
    op.add_column("stories", sa.Column("note_depth", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("nodes", sa.Column("steering", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    for table, column in (("nodes", "steering"), ("stories", "note_depth"), ("stories", "authors_note"),
                          ("stories", "memory")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # not a batch rebuild: see m003

"""m011 storyline: each story keeps a plan, the keywords of each sentence planned before writing

Revision ID: m011_storyline
Revises: m010_one_undo_store
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m011_storyline"
down_revision = "m010_one_undo_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stories written before this revision have no plan ({}); their sentences stay as written.
    op.add_column("stories", sa.Column("storyline", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.execute("ALTER TABLE stories DROP COLUMN storyline")  # not a batch rebuild: see m003

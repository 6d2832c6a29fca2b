"""m010 one undo store: the steps back a story's redo stack kept become rows of head_moves

Revision ID: m010_one_undo_store
Revises: m009_bible_ratings
Create Date: 2026-12-12
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "m010_one_undo_store"
down_revision = "m009_bible_ratings"
branch_labels = None
depends_on = None

STORIES = sa.table("stories", sa.column("id", sa.Integer()), sa.column("redo_stack", sa.JSON()))
NODES = sa.table("nodes", sa.column("id", sa.Integer()), sa.column("parent_id", sa.Integer()))
MOVES = sa.table(
    "head_moves",
    sa.column("id", sa.Integer()),
    sa.column("story_id", sa.Integer()),
    sa.column("kind", sa.String(8)),
    sa.column("before_node_id", sa.BigInteger()),
    sa.column("after_node_id", sa.BigInteger()),
    sa.column("undone", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _stack(value) -> list[int]:
    """A redo stack as the database hands the JSON back (a list, or its text on some drivers)."""
    stack = json.loads(value) if isinstance(value, str) else value
    return [int(node) for node in stack or []]


def upgrade() -> None:
    # Rows from before this revision are replacing changes ("change"); each head a story's redo
    # stack held becomes a step back ("back", undone), oldest first, so redo takes the latest.
    op.add_column("head_moves", sa.Column("kind", sa.String(8), nullable=False, server_default="change"))
    bind = op.get_bind()
    parents = dict(bind.execute(sa.select(NODES.c.id, NODES.c.parent_id)).all())
    now = datetime.now(UTC)
    for story_id, stack in bind.execute(sa.select(STORIES.c.id, STORIES.c.redo_stack)).all():
        rows = [dict(story_id=story_id, kind="back", before_node_id=parents.get(node), after_node_id=node,
                     undone=True, created_at=now) for node in _stack(stack)]
        if rows:
            bind.execute(MOVES.insert(), rows)
    op.execute("ALTER TABLE stories DROP COLUMN redo_stack")  # not a batch rebuild: see m003


def downgrade() -> None:
    op.add_column("stories", sa.Column("redo_stack", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    bind = op.get_bind()
    back = sa.select(MOVES.c.story_id, MOVES.c.after_node_id).where(MOVES.c.kind == "back").order_by(MOVES.c.id)
    stacks: dict[int, list[int]] = {}
    for story_id, node in bind.execute(back).all():
        stacks.setdefault(story_id, []).append(node)
    for story_id, stack in stacks.items():
        bind.execute(STORIES.update().where(STORIES.c.id == story_id).values(redo_stack=stack))
    bind.execute(MOVES.delete().where(MOVES.c.kind == "back"))
    op.execute("ALTER TABLE head_moves DROP COLUMN kind")

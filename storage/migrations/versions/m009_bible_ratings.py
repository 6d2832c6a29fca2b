"""m009 bible and ratings: each story keeps a bible of entries; writers rate sentence versions

Revision ID: m009_bible_ratings
Revises: m008_memory
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m009_bible_ratings"
down_revision = "m008_memory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stories from before this revision start with an empty bible and no ratings.
    op.create_table(
        "bible_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", name="fk_bible_entries_story_id_stories"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("always", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bible_entries"),
    )
    op.create_index("ix_bible_entries_story_id", "bible_entries", ["story_id"])
    op.create_table(
        "sentence_ratings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.Integer(), sa.ForeignKey("nodes.id", name="fk_sentence_ratings_node_id_nodes"),
                  nullable=False),
        sa.Column("story_id", sa.Integer(),
                  sa.ForeignKey("stories.id", name="fk_sentence_ratings_story_id_stories"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_sentence_ratings_user_id_users"),
                  nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sentence_ratings"),
        sa.CheckConstraint("rating IN ('up', 'down')", name="ck_sentence_ratings_rating"),
        sa.UniqueConstraint("node_id", "user_id", name="uq_sentence_ratings_node_id_user_id"),
    )
    for column in ("node_id", "story_id", "user_id"):
        op.create_index(f"ix_sentence_ratings_{column}", "sentence_ratings", [column])


def downgrade() -> None:
    op.drop_table("sentence_ratings")
    op.drop_table("bible_entries")

"""m001 initial: users, stories and the node revision tree

Revision ID: m001_initial
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m001_initial"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint("role IN ('writer', 'rater', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    # Stories and nodes point at each other; the story -> node keys come after both exist.
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("premise", sa.Text(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("head_node_id", sa.Integer(), nullable=True),
        sa.Column("base_node_id", sa.Integer(), nullable=True),
        sa.Column("forked_from_id", sa.Integer(), nullable=True),
        sa.Column("redo_stack", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["forked_from_id"], ["stories.id"], name=op.f("fk_stories_forked_from_id_stories")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_stories_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    op.create_index(op.f("ix_stories_owner_id"), "stories", ["owner_id"], unique=False)
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("keywords_source", sa.String(length=32), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("chosen", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("timings_ms", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "source IN ('generated', 'edited', 'typed')", name=op.f("ck_nodes_source")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_nodes_position")),
        sa.ForeignKeyConstraint(["parent_id"], ["nodes.id"], name=op.f("fk_nodes_parent_id_nodes")),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_nodes_story_id_stories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_index(op.f("ix_nodes_parent_id"), "nodes", ["parent_id"], unique=False)
    op.create_index(op.f("ix_nodes_story_id"), "nodes", ["story_id"], unique=False)
    with op.batch_alter_table("stories") as batch:
        batch.create_foreign_key("fk_stories_head_node_id_nodes", "nodes", ["head_node_id"], ["id"])
        batch.create_foreign_key("fk_stories_base_node_id_nodes", "nodes", ["base_node_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.drop_constraint("fk_stories_base_node_id_nodes", type_="foreignkey")
        batch.drop_constraint("fk_stories_head_node_id_nodes", type_="foreignkey")
    op.drop_index(op.f("ix_nodes_story_id"), table_name="nodes")
    op.drop_index(op.f("ix_nodes_parent_id"), table_name="nodes")
    op.drop_table("nodes")
    op.drop_index(op.f("ix_stories_owner_id"), table_name="stories")
    op.drop_table("stories")
    op.drop_table("users")

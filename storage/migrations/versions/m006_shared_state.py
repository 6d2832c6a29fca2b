"""m006 shared state: undo moves, writing leases, login sessions and shared settings

Everything an app process used to keep in its own memory, so several processes on one
database behave as one.

Revision ID: m006_shared_state
Revises: m005_backend
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m006_shared_state"
down_revision = "m005_backend"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "head_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("before_node_id", sa.BigInteger(), nullable=True),
        sa.Column("after_node_id", sa.BigInteger(), nullable=True),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], name=op.f("fk_head_moves_story_id_stories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_head_moves")),
    )
    op.create_index(op.f("ix_head_moves_story_id"), "head_moves", ["story_id"], unique=False)
    op.create_table(
        "writing_leases",
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], name=op.f("fk_writing_leases_story_id_stories")),
        sa.PrimaryKeyConstraint("story_id", name=op.f("pk_writing_leases")),
    )
    op.create_table(
        "login_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_user_name"), "login_sessions", ["user_name"], unique=False)
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
    op.drop_index(op.f("ix_login_sessions_user_name"), table_name="login_sessions")
    op.drop_table("login_sessions")
    op.drop_table("writing_leases")
    op.drop_index(op.f("ix_head_moves_story_id"), table_name="head_moves")
    op.drop_table("head_moves")

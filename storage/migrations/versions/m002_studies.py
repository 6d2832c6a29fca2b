"""m002 studies: human evaluation studies, items, assignments, ratings, invites

Revision ID: m002_studies
Revises: m001_initial
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m002_studies"
down_revision = "m001_initial"
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _key(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("overlap_k", sa.Integer(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("attention_rate", sa.Float(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "kind IN ('likert', 'pairwise', 'control')", name=op.f("ck_studies_kind")
        ),
        sa.CheckConstraint("overlap_k >= 1", name=op.f("ck_studies_overlap_k")),
        _key("studies", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=True),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        _timestamp("created_at"),
        _key("invites", "rater_id", "users"),
        _key("invites", "study_id", "studies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invites_token_hash")),
    )
    op.create_index(op.f("ix_invites_study_id"), "invites", ["study_id"], unique=False)
    op.create_table(
        "study_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("hidden", sa.JSON(), nullable=False),
        sa.Column("is_attention_check", sa.Boolean(), nullable=False),
        sa.Column("expected", sa.JSON(none_as_null=True), nullable=True),
        _timestamp("created_at"),
        _key("study_items", "study_id", "studies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_items")),
        sa.UniqueConstraint("study_id", "ordinal", name=op.f("uq_study_items_study_id_ordinal")),
    )
    op.create_index(op.f("ix_study_items_study_id"), "study_items", ["study_id"], unique=False)
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("order_index", sa.Integer(), nullable=False),
        sa.Column("time_spent_ms", sa.Integer(), nullable=False),
        _timestamp("assigned_at"),
        _timestamp("completed_at", nullable=True),
        _key("assignments", "item_id", "study_items"),
        _key("assignments", "rater_id", "users"),
        _key("assignments", "study_id", "studies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("item_id", "rater_id", name=op.f("uq_assignments_item_id_rater_id")),
    )
    op.create_index(op.f("ix_assignments_item_id"), "assignments", ["item_id"], unique=False)
    op.create_index(op.f("ix_assignments_study_id"), "assignments", ["study_id"], unique=False)
    op.create_index(
        "ix_assignments_rater_study_order",
        "assignments",
        ["rater_id", "study_id", "order_index"],
        unique=False,
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("time_spent_ms", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _key("ratings", "assignment_id", "assignments"),
        _key("ratings", "item_id", "study_items"),
        _key("ratings", "rater_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "rater_id", "item_id", "criterion", name=op.f("uq_ratings_rater_id_item_id_criterion")
        ),
    )
    op.create_index(op.f("ix_ratings_assignment_id"), "ratings", ["assignment_id"], unique=False)
    op.create_index(op.f("ix_ratings_item_id"), "ratings", ["item_id"], unique=False)
    op.create_table(
        "rating_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("time_spent_ms", sa.Integer(), nullable=False),
        _timestamp("submitted_at"),
        _key("rating_revisions", "rating_id", "ratings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_revisions")),
    )
    op.create_index(
        op.f("ix_rating_revisions_rating_id"), "rating_revisions", ["rating_id"], unique=False
    )


def downgrade() -> None:
    for table in ("rating_revisions", "ratings", "assignments", "study_items", "invites"):
        op.drop_table(table)
    op.drop_table("studies")

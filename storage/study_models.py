"""Tables for human evaluation: studies, items, assignments and ratings.

An item holds what a rater sees (`payload`) and, kept apart, what raters must
never see (`hidden`: which systems made it, which side is which). A rating is
unique per (rater, item, criterion); a resubmission updates it and keeps the
earlier answer as a `RatingRevision` row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

STUDY_KINDS = ("likert", "pairwise", "control")
DEFAULT_LEASE_HOURS = 24.0


class Study(Base):
    """An evaluation study: its kind, criteria and how many raters see each item."""

    __tablename__ = "studies"
    __table_args__ = (
        CheckConstraint("kind IN ('likert', 'pairwise', 'control')", name="kind"),
        CheckConstraint("overlap_k >= 1", name="overlap_k"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    criteria: Mapped[list[Any]] = mapped_column(default=list)
    overlap_k: Mapped[int] = mapped_column(Integer, default=1)
    instructions: Mapped[str] = mapped_column(Text, default="")
    attention_rate: Mapped[float] = mapped_column(Float, default=0.0)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()  # a closed study takes no invites or answers

    @property
    def lease_hours(self) -> float:
        """Hours a rater may hold an unanswered item before it goes back to the pool."""
        return float((self.settings or {}).get("lease_hours", DEFAULT_LEASE_HOURS))


class StudyItem(Base):
    """One thing to judge; attention checks carry their known answer."""

    __tablename__ = "study_items"
    __table_args__ = (UniqueConstraint("study_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hidden: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_attention_check: Mapped[bool] = mapped_column(Boolean, default=False)
    expected: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """An item given to one rater, at a place in that rater's own random order."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "rater_id"),
        Index("ix_assignments_rater_study_order", "rater_id", "study_id", "order_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("study_items.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    order_index: Mapped[int] = mapped_column(Integer)
    time_spent_ms: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    released_at: Mapped[datetime | None] = mapped_column()  # unanswered past its lease: back in the pool


class Rating(Base):
    """A rater's current answer for one criterion of one item."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("rater_id", "item_id", "criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("study_items.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    time_spent_ms: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RatingRevision(Base):
    """An answer that a later resubmission replaced: the audit trail."""

    __tablename__ = "rating_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[Any] = mapped_column(JSON)
    time_spent_ms: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime] = mapped_column()


class Invite(Base):
    """A one-time link for a rater; only a hash of its token is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()  # an admin withdrew it

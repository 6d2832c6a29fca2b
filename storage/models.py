"""Tables for writers: users, stories and the revision tree of their sentences.

One `Node` is one version of one sentence with everything that made it. A story's
text is the path from its root node to its head node; regenerating, editing or
choosing another candidate adds a sibling node, so nothing is ever overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("writer", "rater", "admin")
NODE_SOURCES = ("generated", "edited", "typed")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always reads back timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC on the way in and
    tagged as UTC on the way out; PostgreSQL stores `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base shared by every storage table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person using the product: a writer, a rater or an admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('writer', 'rater', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="writer")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()  # a disabled account cannot log in


class Story(Base):
    """A story: its owner, premise, settings and the node its text ends at."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    premise: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Placed before the story in every prompt, and `note_depth` sentences before its end.
    memory: Mapped[str] = mapped_column(Text, default="")
    authors_note: Mapped[str] = mapped_column(Text, default="")
    note_depth: Mapped[int] = mapped_column(Integer, default=1)
    # The plan: {"slots": [keywords of sentence 1, of sentence 2, ...], "source": ...}; {} for none.
    storyline: Mapped[dict[str, Any]] = mapped_column(default=dict)
    head_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", use_alter=True, name="fk_stories_head_node_id_nodes")
    )
    # A fork shares its source's nodes up to and including `base_node_id`.
    base_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", use_alter=True, name="fk_stories_base_node_id_nodes")
    )
    forked_from_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column()


class Node(Base):
    """One version of one sentence, with its full provenance."""

    __tablename__ = "nodes"
    __table_args__ = (
        CheckConstraint("source IN ('generated', 'edited', 'typed')", name="source"),
        CheckConstraint("position >= 0", name="position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    keywords_source: Mapped[str] = mapped_column(String(32), default="")
    facts: Mapped[list[Any]] = mapped_column(default=list)
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    chosen: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    model: Mapped[str] = mapped_column(String(300), default="")
    timings_ms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[list[Any]] = mapped_column(default=list)
    backend: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tokens: Mapped[list[Any]] = mapped_column(default=list)  # per candidate: tokens with their alternatives
    steering: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the memory and author's note it was written with
    coherence: Mapped[list[Any]] = mapped_column(default=list)  # the reranker's score of each candidate ([]: none ran)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BibleEntry(Base):
    """One entry of a story's bible: a character, place, object or rule, with the keys that call it up.

    Editing keeps the earlier versions in `history` (oldest first); deleting sets `deleted_at`,
    so sentences written with an entry can still name it.
    """

    __tablename__ = "bible_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    keys: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str] = mapped_column(Text)
    always: Mapped[bool] = mapped_column(Boolean, default=False)  # in every prompt, keys or not
    history: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column()


RATINGS = ("up", "down")


class SentenceRating(Base):
    """A writer's thumbs up or down on one version of one sentence, with what made that version."""

    __tablename__ = "sentence_ratings"
    __table_args__ = (
        CheckConstraint("rating IN ('up', 'down')", name="rating"),
        UniqueConstraint("node_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    rating: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500), default="")
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the version's keywords, facts, model, seed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

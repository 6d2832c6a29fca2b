"""Writing leases: one writer at a time per story, across every app process.

A sentence is written outside any transaction (generation takes seconds), so the
double-click guard cannot be a row lock. Instead the writer takes a lease: a row that
names the story, a random holder and an expiry. A second writer, in this process or
another one sharing the database, finds the lease held and is refused at once. The
holder renews the lease while it works; a process that dies leaves a lease that simply
runs out, so a crash never locks a story for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.errors import NotFound
from storage.models import Base, Story, utcnow


class WritingLease(Base):
    """Who is writing a story now, and until when (unless renewed)."""

    __tablename__ = "writing_leases"

    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()


def acquire_lease(session: Session, *, story_id: int, holder: str, ttl_s: float) -> bool:
    """Take the story's lease for `holder` when it is free, expired or already `holder`'s; False when held.

    Raises `NotFound` for a story that does not exist.
    """
    if session.get(Story, story_id) is None:
        raise NotFound(f"story {story_id} does not exist")
    now = utcnow()
    until = now + timedelta(seconds=ttl_s)
    taken = session.execute(
        update(WritingLease)
        .where(WritingLease.story_id == story_id, or_(WritingLease.expires_at < now, WritingLease.holder == holder))
        .values(holder=holder, expires_at=until)
    ).rowcount
    if taken:
        return True
    try:
        with session.begin_nested():
            session.add(WritingLease(story_id=story_id, holder=holder, expires_at=until))
    except IntegrityError:  # held by someone else (and not expired)
        return False
    return True


def renew_lease(session: Session, *, story_id: int, holder: str, ttl_s: float) -> bool:
    """Push the expiry of `holder`'s lease forward; False when the lease is no longer theirs."""
    until = utcnow() + timedelta(seconds=ttl_s)
    return bool(session.execute(
        update(WritingLease).where(WritingLease.story_id == story_id, WritingLease.holder == holder)
        .values(expires_at=until)
    ).rowcount)


def release_lease(session: Session, *, story_id: int, holder: str) -> None:
    """Give the lease back (only `holder`'s own)."""
    session.execute(delete(WritingLease).where(WritingLease.story_id == story_id, WritingLease.holder == holder))

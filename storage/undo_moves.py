"""The writer's undo history of replacing changes, kept in the database.

Storage's own `undo` moves a story's head back one sentence. After a regenerate, an
edit, a candidate switch or "make current" the writer expects the old version back
instead, so each such change is recorded as a move (head before, head after). Undo
takes back the latest move that is not undone yet when the story still ends where that
move left it; redo replays the earliest undone move. Because the moves live in the
database, undo and redo behave the same after a restart and in every app process that
shares the database. A new change drops the undone moves, as any editor's redo does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, utcnow

KEEP_MOVES = 200  # moves kept per story; older ones are forgotten


class HeadMove(Base):
    """One replacing change of a story's head; `undone` while it is taken back."""

    __tablename__ = "head_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    before_node_id: Mapped[int | None] = mapped_column(BigInteger)
    after_node_id: Mapped[int | None] = mapped_column(BigInteger)
    undone: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _moves(story_id: int, *, undone: bool):
    return select(HeadMove).where(HeadMove.story_id == story_id, HeadMove.undone.is_(undone))


def forget_redo(session: Session, *, story_id: int) -> None:
    """Drop the story's undone moves: a new change ends what redo could replay."""
    session.execute(delete(HeadMove).where(HeadMove.story_id == story_id, HeadMove.undone.is_(True)))


def record_move(session: Session, *, story_id: int, before: int | None, after: int | None) -> None:
    """Remember a replacing change (and forget what redo could have replayed)."""
    forget_redo(session, story_id=story_id)
    session.add(HeadMove(story_id=story_id, before_node_id=before, after_node_id=after))
    session.flush()
    stale = select(HeadMove.id).where(HeadMove.story_id == story_id).order_by(HeadMove.id.desc()).offset(KEEP_MOVES)
    old = list(session.scalars(stale))
    if old:
        session.execute(delete(HeadMove).where(HeadMove.id.in_(old)))


def undo_move(session: Session, *, story_id: int, head: int | None) -> int | None:
    """The head to return to, if the latest move left the story at `head`; marks it undone."""
    move = session.scalars(_moves(story_id, undone=False).order_by(HeadMove.id.desc()).limit(1)).first()
    if move is None or move.after_node_id != head or move.before_node_id is None:
        return None
    move.undone = True
    return move.before_node_id


def redo_move(session: Session, *, story_id: int, head: int | None) -> int | None:
    """The head to go forward to, if the latest undo through these moves left the story at `head`."""
    move = session.scalars(_moves(story_id, undone=True).order_by(HeadMove.id.asc()).limit(1)).first()
    if move is None or move.before_node_id != head:
        return None
    move.undone = False
    return move.after_node_id

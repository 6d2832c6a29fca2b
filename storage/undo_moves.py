"""Undo and redo of a story: one table of head moves, and the one rule that walks it.

Every head move a writer can take back or replay is a row of `head_moves`, kept in the
database so that undo and redo behave the same after a restart and in every app process
that shares the database. A row has one of two kinds:

- `change`: a replacing change (a regenerate, an edit, a candidate switch, "make current",
  or a rewrite that re-attaches the later sentences). Undo returns to its `before` head
  when the story still ends at its `after` head; redo replays the change undone last.
- `back`: an undo that took the story back one sentence (nothing was replaced). It is
  only ever undone; redo goes forward to its `after` head, the latest first.

Undo takes back the latest change that is not undone yet, else one sentence. Redo replays
the change undone last when the story is where that undo left it, else the latest step
back. Any other move of the head (a new sentence, a new version, a version made current)
ends what redo could replay, as in any editor; taking back or replaying a change ends the
steps back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, delete, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage import tree
from storage.errors import Conflict
from storage.models import Base, Node, Story, utcnow

KEEP_MOVES = 200  # changes kept per story; older ones are forgotten
CHANGE, BACK = "change", "back"


class HeadMove(Base):
    """One move of a story's head that undo or redo can walk; `undone` while it is taken back."""

    __tablename__ = "head_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default=CHANGE, server_default=CHANGE)
    before_node_id: Mapped[int | None] = mapped_column(BigInteger)
    after_node_id: Mapped[int | None] = mapped_column(BigInteger)
    undone: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _rows(story_id: int, kind: str, *, undone: bool):
    return select(HeadMove).where(HeadMove.story_id == story_id, HeadMove.kind == kind, HeadMove.undone.is_(undone))


def forget_redo(session: Session, *, story_id: int) -> None:
    """Drop everything redo could replay (undone changes and steps back): a new change ends it."""
    session.execute(delete(HeadMove).where(HeadMove.story_id == story_id, HeadMove.undone.is_(True)))


def record_move(session: Session, *, story_id: int, before: int | None, after: int | None) -> None:
    """Remember a replacing change (and forget what redo could have replayed)."""
    forget_redo(session, story_id=story_id)
    session.add(HeadMove(story_id=story_id, kind=CHANGE, before_node_id=before, after_node_id=after))
    session.flush()
    changes = select(HeadMove.id).where(HeadMove.story_id == story_id, HeadMove.kind == CHANGE)
    old = list(session.scalars(changes.order_by(HeadMove.id.desc()).offset(KEEP_MOVES)))
    if old:
        session.execute(delete(HeadMove).where(HeadMove.id.in_(old)))


def undo_move(session: Session, *, story_id: int, head: int | None) -> int | None:
    """The head to return to, if the latest change left the story at `head`; marks it undone."""
    move = session.scalars(_rows(story_id, CHANGE, undone=False).order_by(HeadMove.id.desc()).limit(1)).first()
    if move is None or move.after_node_id != head or move.before_node_id is None:
        return None
    move.undone = True
    return move.before_node_id


def redo_move(session: Session, *, story_id: int, head: int | None) -> int | None:
    """The head to go forward to, if the change undone last left the story at `head`."""
    move = session.scalars(_rows(story_id, CHANGE, undone=True).order_by(HeadMove.id.asc()).limit(1)).first()
    if move is None or move.before_node_id != head:
        return None
    move.undone = False
    return move.after_node_id


def move_head(session: Session, story: Story, node_id: int | None) -> None:
    """Make `node_id` the story's head after a new sentence, version or choice: redo ends here."""
    forget_redo(session, story_id=story.id)
    _set_head(story, node_id)


def undo(session: Session, *, user_id: int, story_id: int) -> Node | None:
    """Take back the last change: the old version after a replacing change, else one sentence.

    Returns:
        The new head (`None`: the story is empty now).

    Raises:
        Conflict: The story is already empty.
    """
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    before = undo_move(session, story_id=story.id, head=story.head_node_id)
    if before is not None:
        return _replay(session, story, before)
    if story.head_node_id is None:
        raise Conflict("nothing to undo")
    head = session.get(Node, story.head_node_id)
    session.add(HeadMove(story_id=story.id, kind=BACK, before_node_id=head.parent_id, after_node_id=head.id,
                         undone=True))
    _set_head(story, head.parent_id)
    return session.get(Node, head.parent_id) if head.parent_id else None


def redo(session: Session, *, user_id: int, story_id: int) -> Node:
    """Replay what the last undo took back.

    Raises:
        Conflict: There is nothing to redo.
    """
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    after = redo_move(session, story_id=story.id, head=story.head_node_id)
    if after is not None:
        return _replay(session, story, after)
    back = session.scalars(_rows(story.id, BACK, undone=True).order_by(HeadMove.id.desc()).limit(1)).first()
    if back is None:
        raise Conflict("nothing to redo")
    session.delete(back)
    _set_head(story, back.after_node_id)
    return session.get(Node, back.after_node_id)


def can_redo(session: Session, story: Story) -> bool:
    """Whether redo has something to replay."""
    undone = select(HeadMove.before_node_id).where(HeadMove.story_id == story.id, HeadMove.kind == CHANGE,
                                                   HeadMove.undone.is_(True)).order_by(HeadMove.id.asc()).limit(1)
    changed = session.execute(undone).first()
    if changed is not None and changed[0] == story.head_node_id:
        return True
    return bool(session.scalar(select(exists().where(HeadMove.story_id == story.id, HeadMove.kind == BACK))))


def steps_back(session: Session, story: Story) -> list[int]:
    """The heads the steps back left behind, oldest first (redo goes to the last one first)."""
    query = select(HeadMove.after_node_id).where(HeadMove.story_id == story.id, HeadMove.kind == BACK)
    return [node for node in session.scalars(query.order_by(HeadMove.id.asc())) if node is not None]


def add_steps_back(session: Session, story: Story, heads: list[int]) -> None:
    """Record steps back to the heads in `heads` (oldest first), as an imported story had them."""
    for node_id in heads:
        node = session.get(Node, node_id)
        session.add(HeadMove(story_id=story.id, kind=BACK, before_node_id=node.parent_id if node else None,
                             after_node_id=node_id, undone=True))


def _replay(session: Session, story: Story, node_id: int) -> Node:
    """Move the head through a change (undone or redone): the steps back end, undone changes stay."""
    node = tree.node_in_story(session, story, node_id)
    session.execute(delete(HeadMove).where(HeadMove.story_id == story.id, HeadMove.kind == BACK))
    _set_head(story, node.id)
    return node


def _set_head(story: Story, node_id: int | None) -> None:
    story.head_node_id = node_id
    story.updated_at = utcnow()

"""Stories as revision trees: create, write sentences, move the head, fork, delete.

Every function takes the acting user's id and refuses a story that user does
not own. Writes lock the story row, so concurrent writers line up instead of
losing a head update. The caller owns the transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import bible, ratings, tree, undo_moves, validate
from storage.errors import Conflict, InvalidInput
from storage.models import Node, Story, utcnow
from storage.records import NodeView, Provenance, StorySummary, StoryView, provenance_of
from storage.users import get_user


def create_story(
    session: Session,
    *,
    user_id: int,
    title: str = "",
    premise: str = "",
    settings: dict[str, Any] | None = None,
) -> Story:
    """Start an empty story.

    Args:
        session: Open session; the caller commits.
        user_id: Owner.
        title: Short title (up to 500 characters).
        premise: The opening premise the engine continues from.
        settings: JSON-able defaults for this story (model id, sampling settings).

    Returns:
        The new story, flushed so it has an id.
    """
    get_user(session, user_id)
    story = Story(
        owner_id=user_id,
        title=validate.text(title, field="title", limit=validate.MAX_TITLE, allow_empty=True),
        premise=validate.text(premise, field="premise", allow_empty=True),
        settings=validate.json_object(settings, field="settings"),
    )
    session.add(story)
    session.flush()
    return story


def append_node(
    session: Session,
    *,
    user_id: int,
    story_id: int,
    text: str,
    provenance: Provenance | None = None,
) -> Node:
    """Add the next sentence after the current head and make it the head.

    Args:
        session: Open session; the caller commits.
        user_id: Acting user; must own the story.
        story_id: The story.
        text: The sentence (1 to 100,000 characters, no NUL).
        provenance: Keywords, facts, candidates, params, seed, model, timings and
            source; defaults to a sentence the writer typed.

    Returns:
        The new node.
    """
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    parent = session.get(Node, story.head_node_id) if story.head_node_id else None
    return _add_node(session, story, parent, text, provenance)


def add_sibling(
    session: Session,
    *,
    user_id: int,
    story_id: int,
    node_id: int,
    text: str,
    provenance: Provenance | None = None,
) -> Node:
    """Add another version of a sentence (regenerate, edit, other candidate); it becomes the head.

    Args:
        session: Open session; the caller commits.
        user_id: Acting user; must own the story.
        story_id: The story.
        node_id: The sentence this is another version of.
        text: The new version's text.
        provenance: How the new version was made.

    Returns:
        The new node; it has the same parent and position as `node_id`.
    """
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    node = tree.node_in_story(session, story, node_id)
    parent = session.get(Node, node.parent_id) if node.parent_id else None
    return _add_node(session, story, parent, text, provenance)


def replace_from(
    session: Session, *, user_id: int, story_id: int, node_id: int, records: list[tuple[str, Provenance]]
) -> Node:
    """A new version of sentence `node_id`, then `records[1:]` after it, as one change undo takes back.

    Args:
        session: Open session; the caller commits.
        user_id: Acting user; must own the story.
        story_id: The story.
        node_id: The sentence the first record is a new version of.
        records: (text, provenance) of the new version and of each sentence to write after it.

    Returns:
        The new head; undo returns the story to the head it had before.
    """
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    before = story.head_node_id
    (first_text, first), *rest = records
    head = add_sibling(session, user_id=user_id, story_id=story_id, node_id=node_id, text=first_text, provenance=first)
    for text, record in rest:
        head = append_node(session, user_id=user_id, story_id=story_id, text=text, provenance=record)
    undo_moves.record_move(session, story_id=story.id, before=before, after=head.id)
    return head


def choose_node(session: Session, *, user_id: int, story_id: int, node_id: int) -> Node:
    """Make any node of the story the head (switch version or branch), as a change undo takes back."""
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    node = tree.node_in_story(session, story, node_id)
    before = story.head_node_id
    undo_moves.move_head(session, story, node.id)
    undo_moves.record_move(session, story_id=story.id, before=before, after=node.id)
    return node


def fork_story(
    session: Session, *, user_id: int, story_id: int, node_id: int, title: str | None = None
) -> Story:
    """Start a new story from the path up to `node_id`, sharing those nodes.

    Args:
        session: Open session; the caller commits.
        user_id: Acting user; must own the source story and owns the fork.
        story_id: Source story.
        node_id: Last sentence the fork keeps.
        title: The fork's title; defaults to the source's.

    Returns:
        The new story, whose head is `node_id`; no node is copied.
    """
    source = tree.get_story(session, user_id=user_id, story_id=story_id)
    node = tree.node_in_story(session, source, node_id)
    fork = create_story(
        session,
        user_id=user_id,
        title=source.title if title is None else title,
        premise=source.premise,
        settings=source.settings,
    )
    fork.forked_from_id, fork.base_node_id, fork.head_node_id = source.id, node.id, node.id
    fork.memory, fork.authors_note, fork.note_depth = source.memory, source.authors_note, source.note_depth
    fork.storyline = dict(source.storyline)
    session.flush()
    bible.copy_entries(session, source=source, target=fork)
    return fork


def set_memory(
    session: Session, *, user_id: int, story_id: int, memory: str, authors_note: str, note_depth: int | None = None
) -> Story:
    """Set the story's memory and author's note (and the note's depth; None keeps it).

    Args:
        session: Open session; the caller commits.
        user_id: Acting user; must own the story.
        story_id: The story.
        memory: Text placed before the story in every prompt (up to 100,000 characters; may be empty).
        authors_note: Text placed near the end of every prompt (same limits).
        note_depth: Sentences before the story's end the note sits (0 to 20; 0: right after it).

    Returns:
        The story; nothing is changed when any value is refused.
    """
    memory = validate.text(memory, field="memory", allow_empty=True)
    authors_note = validate.text(authors_note, field="author's note", allow_empty=True)
    depth = None if note_depth is None else validate.note_depth(note_depth)
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    story.memory, story.authors_note = memory, authors_note
    if depth is not None:
        story.note_depth = depth
    story.updated_at = utcnow()
    return story


def set_storyline(session: Session, *, user_id: int, story_id: int, storyline: Any) -> Story:
    """Set the story's plan (`validate.storyline`: {"slots": [[keyword, ...], ...], "source": ...}, or {}).

    Slot i holds the keywords of sentence i + 1; the sentences themselves are not touched.
    """
    plan = validate.storyline(storyline)
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    story.storyline = plan
    story.updated_at = utcnow()
    return story


def load_story(
    session: Session, *, user_id: int, story_id: int, include_deleted: bool = False, with_bible: bool = True
) -> StoryView:
    """Load a story as its path from the root to the head, with provenance.

    Args:
        session: Open session.
        user_id: Acting user; must own the story.
        story_id: The story.
        include_deleted: Also load a soft-deleted story.
        with_bible: Also load the bible's entries (`StoryView.bible`; up to 10,000 rows).

    Returns:
        A detached `StoryView`; each node lists its sibling versions.
    """
    story = tree.get_story(
        session, user_id=user_id, story_id=story_id, include_deleted=include_deleted
    )
    path = tree.path_to(session, story.head_node_id)
    siblings = tree.sibling_ids(session, story, path)
    nodes = [
        NodeView(
            id=n.id,
            parent_id=n.parent_id,
            position=n.position,
            text=n.text,
            provenance=provenance_of(n),
            created_at=n.created_at,
            sibling_ids=siblings[n.id],
        )
        for n in path
    ]
    return StoryView(
        id=story.id,
        owner_id=story.owner_id,
        title=story.title,
        premise=story.premise,
        settings=dict(story.settings),
        memory=story.memory,
        authors_note=story.authors_note,
        note_depth=story.note_depth,
        storyline=dict(story.storyline or {}),
        head_node_id=story.head_node_id,
        forked_from_id=story.forked_from_id,
        can_undo=story.head_node_id is not None,
        can_redo=undo_moves.can_redo(session, story),
        created_at=story.created_at,
        updated_at=story.updated_at,
        deleted_at=story.deleted_at,
        nodes=nodes,
        bible=tuple(bible.entries_of(session, story)) if with_bible else (),
        ratings=ratings.story_ratings(session, story),
    )


def list_stories(
    session: Session,
    *,
    user_id: int,
    include_deleted: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[StorySummary]:
    """A user's stories, most recently updated first.

    Args:
        session: Open session.
        user_id: Owner.
        include_deleted: Also list soft-deleted stories.
        limit: Page size (1-1000).
        offset: Rows to skip.
    """
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInput("limit must be 1-1000 and offset non-negative")
    query = select(Story).where(Story.owner_id == validate.identifier(user_id, field="user_id"))
    if not include_deleted:
        query = query.where(Story.deleted_at.is_(None))
    query = query.order_by(Story.updated_at.desc(), Story.id.desc()).limit(limit).offset(offset)
    stories = list(session.scalars(query))
    heads = [s.head_node_id for s in stories if s.head_node_id]
    positions = dict(
        session.execute(select(Node.id, Node.position).where(Node.id.in_(heads))).all()
    )
    return [
        StorySummary(
            id=s.id,
            title=s.title,
            premise=s.premise,
            sentences=positions[s.head_node_id] + 1 if s.head_node_id else 0,
            created_at=s.created_at,
            updated_at=s.updated_at,
            deleted_at=s.deleted_at,
        )
        for s in stories
    ]


def delete_story(session: Session, *, user_id: int, story_id: int) -> None:
    """Soft-delete a story: hidden from lists, restorable, nothing removed."""
    story = tree.get_story(session, user_id=user_id, story_id=story_id, for_update=True)
    story.deleted_at = utcnow()


def restore_story(session: Session, *, user_id: int, story_id: int) -> None:
    """Undo a soft delete.

    Raises:
        NotFound: The story does not exist.
        Conflict: The story is not deleted.
    """
    story = tree.get_story(
        session, user_id=user_id, story_id=story_id, include_deleted=True, for_update=True
    )
    if story.deleted_at is None:
        raise Conflict(f"story {story_id} is not deleted")
    story.deleted_at = None
    story.updated_at = utcnow()


def count_nodes(session: Session, *, user_id: int, story_id: int) -> int:
    """How many nodes (all versions of all sentences) the story itself holds."""
    story = tree.get_story(session, user_id=user_id, story_id=story_id, include_deleted=True)
    return session.scalar(select(func.count()).where(Node.story_id == story.id)) or 0


def _add_node(
    session: Session, story: Story, parent: Node | None, text: str, provenance: Provenance | None
) -> Node:
    """Validate, insert a node under `parent` and make it the story's head."""
    text = validate.text(text, field="text")
    record = (provenance or Provenance()).validated()
    node = Node(
        story_id=story.id,
        parent_id=parent.id if parent else None,
        position=parent.position + 1 if parent else 0,
        text=text,
        **record.node_fields(),
    )
    session.add(node)
    session.flush()
    undo_moves.move_head(session, story, node.id)
    return node

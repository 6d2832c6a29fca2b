"""Stories in and out: JSON with everything (round-trips), Markdown with the text.

The JSON document holds the revision tree with provenance, the memory and author's note,
the story bible (entries with their earlier versions) and the ratings of its versions.
Imported ratings belong to the importing writer, one per version (the last one given).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage import bible, ratings, tree, undo_moves, validate
from storage.errors import InvalidInput
from storage.models import RATINGS, Node, SentenceRating, Story
from storage.records import Provenance, provenance_of
from storage.stories import create_story, load_story

FORMAT = "cntrl-story"
VERSION = 1
MAX_IMPORT_NODES = 100_000


def export_json(session: Session, *, user_id: int, story_id: int) -> dict[str, Any]:
    """Export a story with its whole revision tree and provenance.

    Nodes are numbered `ref` 1..n in creation order (database ids are not
    exported), so exporting an imported story gives the same document.

    Args:
        session: Open session.
        user_id: Acting user; must own the story.
        story_id: The story.

    Returns:
        A JSON-able dict; `import_json` reads it back.
    """
    story = tree.get_story(session, user_id=user_id, story_id=story_id, include_deleted=True)
    nodes = tree.visible_nodes(session, story)
    refs = {node.id: index for index, node in enumerate(nodes, start=1)}
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": story.title,
        "premise": story.premise,
        "settings": story.settings,
        "memory": story.memory,
        "authors_note": story.authors_note,
        "note_depth": story.note_depth,
        "storyline": story.storyline or {},
        "created_at": story.created_at.isoformat(),
        "updated_at": story.updated_at.isoformat(),
        "head": refs.get(story.head_node_id) if story.head_node_id else None,
        "redo": [refs[i] for i in undo_moves.steps_back(session, story) if i in refs],
        "nodes": [_node_dict(node, refs) for node in nodes],
        "bible": bible.export_entries(session, story),
        "ratings": ratings.export_ratings(session, story, refs),
    }


def export_markdown(session: Session, *, user_id: int, story_id: int) -> str:
    """The story's text (root to head) as Markdown: title, premise, sentences."""
    view = load_story(session, user_id=user_id, story_id=story_id, include_deleted=True)
    parts = [f"# {view.title.strip() or 'Untitled story'}"]
    if view.premise.strip():
        parts.append(f"*{view.premise.strip()}*")
    if view.nodes:
        parts.append(view.text)
    return "\n\n".join(parts) + "\n"


def import_json(session: Session, *, user_id: int, document: Mapping[str, Any]) -> Story:
    """Create a new story for `user_id` from an `export_json` document.

    The whole document is checked before anything is written, so a bad
    document raises `InvalidInput` and leaves the session untouched.

    Args:
        session: Open session; the caller commits.
        user_id: Owner of the imported story.
        document: A dict as produced by `export_json`.

    Returns:
        The new story.
    """
    header, parsed = _parse(document)
    story = create_story(
        session,
        user_id=user_id,
        title=header["title"],
        premise=header["premise"],
        settings=header["settings"],
    )
    story.memory, story.authors_note, story.note_depth = header["memory"], header["authors_note"], header["note_depth"]
    story.storyline = header["storyline"]
    ids: dict[int, int] = {}
    for ref, parent_ref, position, text, record, created in parsed:
        node = Node(
            story_id=story.id,
            parent_id=ids.get(parent_ref),
            position=position,
            text=text,
            created_at=created,
            **record.node_fields(),
        )
        session.add(node)
        session.flush()
        ids[ref] = node.id
    bible.import_entries(session, story, header["bible"])
    for ref, (rating, reason, when) in header["ratings"].items():
        session.add(SentenceRating(node_id=ids[ref], story_id=story.id, user_id=user_id, rating=rating,
                                   reason=reason, provenance=ratings.snapshot(session.get(Node, ids[ref])),
                                   created_at=when, updated_at=when))
    story.head_node_id = ids.get(header["head"])
    undo_moves.add_steps_back(session, story, [ids[ref] for ref in header["redo"]])
    story.created_at, story.updated_at = header["created_at"], header["updated_at"]
    session.flush()
    return story


def _node_dict(node: Node, refs: dict[int, int]) -> dict[str, Any]:
    return {
        "ref": refs[node.id],
        "parent": refs.get(node.parent_id) if node.parent_id else None,
        "position": node.position,
        "text": node.text,
        **provenance_of(node).node_fields(),
        "created_at": node.created_at.isoformat(),
    }


def _parse(document: Any) -> tuple[dict[str, Any], list[tuple]]:
    """Check a whole document; return its header and its validated nodes."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise InvalidInput(f"not a {FORMAT} document")
    if document.get("version") != VERSION:
        raise InvalidInput(f"unsupported {FORMAT} version {document.get('version')!r}")
    nodes = validate.json_list(document.get("nodes"), field="nodes")
    if len(nodes) > MAX_IMPORT_NODES:
        raise InvalidInput(f"at most {MAX_IMPORT_NODES:,} nodes can be imported")
    positions: dict[int, int] = {}
    parsed = [_parse_node(raw, positions) for raw in nodes]
    head = document.get("head")
    redo = validate.json_list(document.get("redo"), field="redo")
    for ref in [head, *redo]:
        if ref is not None and ref not in positions:
            raise InvalidInput(f"head/redo refer to unknown node ref {ref!r}")
    header = {
        "title": validate.text(
            document.get("title", ""), field="title", limit=validate.MAX_TITLE, allow_empty=True
        ),
        "premise": validate.text(document.get("premise", ""), field="premise", allow_empty=True),
        "settings": validate.json_object(document.get("settings"), field="settings"),
        # Documents from before memory and author's note existed have neither.
        "memory": validate.text(document.get("memory", ""), field="memory", allow_empty=True),
        "authors_note": validate.text(document.get("authors_note", ""), field="author's note", allow_empty=True),
        "note_depth": validate.note_depth(document.get("note_depth", 1)),
        "storyline": validate.storyline(document.get("storyline", {})),  # none before plans existed
        "created_at": _timestamp(document.get("created_at")),
        "updated_at": _timestamp(document.get("updated_at")),
        "head": head,
        "redo": redo,
        # Documents from before the bible and ratings existed have neither.
        "bible": bible.parse_entries(document.get("bible")),
        "ratings": _parse_ratings(document.get("ratings"), positions),
    }
    return header, parsed


def _parse_node(raw: Any, positions: dict[int, int]) -> tuple:
    """Validate one exported node; parents must come before their children."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("each node must be an object")
    ref, parent = raw.get("ref"), raw.get("parent")
    if isinstance(ref, bool) or not isinstance(ref, int) or ref in positions:
        raise InvalidInput(f"node ref {ref!r} is missing, not an integer or repeated")
    if parent is not None and parent not in positions:
        raise InvalidInput(f"node {ref} names parent {parent!r}, which is not an earlier node")
    position = positions[parent] + 1 if parent is not None else 0
    if raw.get("position", position) != position:
        raise InvalidInput(f"node {ref} has position {raw.get('position')!r}, expected {position}")
    names = Provenance.__dataclass_fields__.keys()
    try:
        record = Provenance(**{k: raw[k] for k in names if k in raw}).validated()
    except TypeError as error:
        raise InvalidInput(f"node {ref}: {error}") from None
    text = validate.text(raw.get("text"), field=f"text of node {ref}")
    positions[ref] = position
    return ref, parent, position, text, record, _timestamp(raw.get("created_at"))


def _parse_ratings(value: Any, positions: dict[int, int]) -> dict[int, tuple[str, str, datetime]]:
    """Check a document's ratings: each names a node ref, up or down, a short reason and a time."""
    out = {}
    for number, raw in enumerate(validate.json_list(value if value is not None else [], field="ratings"), start=1):
        if not isinstance(raw, Mapping) or raw.get("ref") not in positions:
            raise InvalidInput(f"rating {number} must be an object naming the ref of a node of the document")
        rating = validate.choice(raw.get("rating"), field=f"rating {number}", options=RATINGS)
        reason = validate.text(raw.get("reason", ""), field=f"reason of rating {number}",
                               limit=ratings.MAX_REASON, allow_empty=True)
        out[raw["ref"]] = (rating, reason, _timestamp(raw.get("at")))
    return out


def _timestamp(value: Any) -> datetime:
    """Parse an ISO timestamp with a zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"bad timestamp {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"timestamp {value!r} has no time zone")
    return parsed

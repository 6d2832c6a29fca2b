"""The library part of the story service: stories, exports, the story bible, ratings and history.

Nothing here runs the engine. Each method names the acting user and runs one short transaction
through the store; `StoryWriting` (app/service_writing.py) shares this part's store and locks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session

import storage
from app.errors import AppError
from app.locks import StoryLocks
from app.store import Store
from engine.types import MAX_PREMISE_CHARS, clean_premise
from storage import StorySummary, StoryView, get_story, validate, visible_nodes

TITLE_FROM_PREMISE = 80


@dataclass(frozen=True)
class HistoryEntry:
    """One node of the revision tree, for the history view."""

    node_id: int
    parent_id: int | None
    position: int
    text: str
    source: str
    on_path: bool
    is_head: bool


class StoryLibrary:
    """A user's stories: create, open, rename, fork, delete, export, import; bible, ratings, history."""

    def __init__(self, *, store: Store, locks: StoryLocks | None = None) -> None:
        self.store = store
        self.locks = locks or StoryLocks(store)

    # ------------------------------------------------------------------ stories
    def new_story(self, *, user_id: int, premise: str, title: str = "") -> StoryView:
        """Start a story; the title defaults to the premise's beginning."""
        try:
            premise = clean_premise(premise)
        except ValueError as error:
            raise AppError(str(error)) from None
        if len(premise) > MAX_PREMISE_CHARS:  # refused here, where the pipeline would clip
            raise AppError(f"the premise is {len(premise):,} characters; at most {MAX_PREMISE_CHARS:,} are allowed")
        title = (title or "").strip()[: validate.MAX_TITLE] or _title_of(premise)
        story = self.store.run(lambda s: storage.create_story(s, user_id=user_id, title=title, premise=premise))
        return self.load(user_id=user_id, story_id=story.id)

    def load(self, *, user_id: int, story_id: int, with_bible: bool = False,
             include_deleted: bool = False) -> StoryView:
        """The story as its path; `with_bible` also reads its bible (what writing needs)."""
        return self.store.run(lambda s: storage.load_story(s, user_id=user_id, story_id=story_id,
                                                           with_bible=with_bible, include_deleted=include_deleted))

    def list(self, *, user_id: int, include_deleted: bool = False) -> list[StorySummary]:
        return self.store.run(lambda s: storage.list_stories(s, user_id=user_id, include_deleted=include_deleted))

    def latest(self, *, user_id: int) -> StoryView | None:
        """The user's most recently changed story, if any."""
        stories = self.list(user_id=user_id)
        return self.load(user_id=user_id, story_id=stories[0].id) if stories else None

    def rename(self, *, user_id: int, story_id: int, title: str) -> StoryView:
        def work(session: Session) -> None:
            story = get_story(session, user_id=user_id, story_id=story_id, for_update=True)
            story.title = validate.text(title.strip(), field="title", limit=validate.MAX_TITLE, allow_empty=True)
        self.store.run(work)
        return self.load(user_id=user_id, story_id=story_id)

    def fork(self, *, user_id: int, story_id: int, node_id: int | None = None) -> StoryView:
        """A new story sharing the path up to `node_id` (default: the head)."""
        view = self.load(user_id=user_id, story_id=story_id)
        if node_id is None and view.head_node_id is None:
            return self.new_story(user_id=user_id, premise=view.premise, title=f"{view.title} (fork)")
        node = node_id or view.head_node_id
        fork = self.store.run(lambda s: storage.fork_story(
            s, user_id=user_id, story_id=story_id, node_id=node, title=f"{view.title} (fork)"[: validate.MAX_TITLE]))
        return self.load(user_id=user_id, story_id=fork.id)

    def delete(self, *, user_id: int, story_id: int) -> None:
        self.store.run(lambda s: storage.delete_story(s, user_id=user_id, story_id=story_id))

    def restore(self, *, user_id: int, story_id: int) -> None:
        self.store.run(lambda s: storage.restore_story(s, user_id=user_id, story_id=story_id))

    def set_memory(self, *, user_id: int, story_id: int, memory: str, authors_note: str,
                   note_depth: int | None = None) -> StoryView:
        """Save the story's memory and author's note (None keeps the note's depth); a refused value changes nothing."""
        self.store.run(lambda s: storage.set_memory(s, user_id=user_id, story_id=story_id, memory=memory,
                                                    authors_note=authors_note, note_depth=note_depth))
        return self.load(user_id=user_id, story_id=story_id)

    def history(self, *, user_id: int, story_id: int) -> list[HistoryEntry]:
        """Every node of the story's revision tree, oldest first."""
        view = self.load(user_id=user_id, story_id=story_id)
        path = {n.id for n in view.nodes}

        def work(session: Session) -> list[HistoryEntry]:
            story = get_story(session, user_id=user_id, story_id=story_id)
            return [HistoryEntry(n.id, n.parent_id, n.position, n.text, n.source, n.id in path,
                                 n.id == view.head_node_id) for n in visible_nodes(session, story)]
        return self.store.run(work)

    # ------------------------------------------------------------------ export and import
    def export_json(self, *, user_id: int, story_id: int) -> str:
        document = self.store.run(lambda s: storage.export_json(s, user_id=user_id, story_id=story_id))
        return json.dumps(document, indent=2, ensure_ascii=False)

    def export_markdown(self, *, user_id: int, story_id: int) -> str:
        return self.store.run(lambda s: storage.export_markdown(s, user_id=user_id, story_id=story_id))

    def export_text(self, *, user_id: int, story_id: int) -> str:
        """The story as plain text: title, premise and the sentences as prose (a deleted story too, as
        with Markdown)."""
        from storage.publish import story_text

        return story_text(self.load(user_id=user_id, story_id=story_id, include_deleted=True))

    def export_epub(self, *, user_id: int, story_id: int) -> bytes:
        """The story as an EPUB book of one chapter."""
        from storage.publish import story_epub

        return story_epub(self.load(user_id=user_id, story_id=story_id, include_deleted=True))

    def import_json(self, *, user_id: int, text: str) -> StoryView:
        try:
            document = json.loads(text)
        except (ValueError, TypeError) as error:
            raise AppError(f"not a JSON document: {error}") from None
        story = self.store.run(lambda s: storage.import_json(s, user_id=user_id, document=document))
        return self.load(user_id=user_id, story_id=story.id)

    # ------------------------------------------------------------------ story bible
    def add_bible_entry(self, *, user_id: int, story_id: int, name: str, keys: str | list[str], text: str,
                        always: bool = False) -> storage.EntryView:
        """Add an entry to the story's bible; returns it as stored."""
        entry = _checked_entry(name, keys, text, always)
        return self.store.run(lambda s: storage.entry_view(
            storage.add_entry(s, user_id=user_id, story_id=story_id, entry=entry)))

    def update_bible_entry(self, *, user_id: int, story_id: int, entry_id: int, name: str, keys: str | list[str],
                           text: str, always: bool = False) -> storage.EntryView:
        """Replace an entry (its earlier version is kept in its history)."""
        entry = _checked_entry(name, keys, text, always)
        return self.store.run(lambda s: storage.entry_view(
            storage.update_entry(s, user_id=user_id, story_id=story_id, entry_id=entry_id, entry=entry)))

    def delete_bible_entry(self, *, user_id: int, story_id: int, entry_id: int) -> None:
        self.store.run(lambda s: storage.delete_entry(s, user_id=user_id, story_id=story_id, entry_id=entry_id))

    def bible(self, *, user_id: int, story_id: int) -> list[storage.EntryView]:
        """The story's live bible entries, oldest first."""
        return self.store.run(lambda s: storage.list_entries(s, user_id=user_id, story_id=story_id))

    # ------------------------------------------------------------------ ratings
    def rate_sentence(self, *, user_id: int, story_id: int, index: int, rating: str, reason: str = "") -> str:
        """Rate the shown version of sentence `index` (1 = first after the premise) up or down."""
        node = node_at(self.load(user_id=user_id, story_id=story_id), index)
        return self.rate_version(user_id=user_id, story_id=story_id, node_id=node.id, rating=rating, reason=reason,
                                 label=f"sentence {index}")

    def rate_version(self, *, user_id: int, story_id: int, node_id: int, rating: str, reason: str = "",
                     label: str = "") -> str:
        """Rate any version in the story's tree; a version no longer in the story gets a clear refusal."""
        saved = self.store.run(lambda s: storage.rate_node(s, user_id=user_id, story_id=story_id, node_id=node_id,
                                                           rating=rating, reason=reason).rating)
        what = label or f"version {node_id}"
        return f"Rated {what} {'👍 up' if saved == 'up' else '👎 down'}" + (f": {reason.strip()}" if reason.strip() else ".")

    def preference_pairs(self, *, user_id: int | None) -> list[dict]:
        """Chosen and rejected versions of the same sentence in the same context (one writer's, or everyone's)."""
        return self.store.run(lambda s: list(storage.preference_pairs(s, user_id=user_id)))


def node_at(view: StoryView, index: int) -> storage.NodeView:
    """Sentence `index` of the story as shown (1 = first after the premise), or a refusal naming the count."""
    if not isinstance(index, int) or not 1 <= index <= len(view.nodes):
        raise AppError(f"there is no sentence {index}; the story has {len(view.nodes)}")
    return view.nodes[index - 1]


def _checked_entry(name, keys, text, always) -> storage.EntryInput:
    try:
        return storage.EntryInput.checked(name, keys, text, always)
    except storage.InvalidInput as error:
        raise AppError(str(error)) from None


def _title_of(premise: str) -> str:
    first = " ".join(premise.split())
    return first if len(first) <= TITLE_FROM_PREMISE else first[: TITLE_FROM_PREMISE - 1].rstrip() + "…"

"""StoryService: every story operation of the app, scoped to one user, saved as it happens.

Generation runs outside any database transaction; the result is written in a short
transaction that checks the story did not move meanwhile. A per-story lock refuses a
second concurrent writer, so a double click writes one sentence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

import storage
from app.admission import WritingQueue
from app.engine_handle import EngineHandle
from app.errors import AppError
from app.locks import StoryLocks
from app.store import Store
from app.writing import Delta, StepRequest, provenance, stream_sentence, suggest
from engine.bible import BibleEntry
from engine.types import MAX_PREMISE_CHARS, Step, StoryContext, clean_premise
from storage import (
    NodeView,
    Provenance,
    StorySummary,
    StoryView,
    get_story,
    validate,
    visible_nodes,
)

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


class StoryService:
    """Story operations for the UI and the API; every method names the acting user."""

    def __init__(self, *, engine: EngineHandle, store: Store, queue: WritingQueue | None = None) -> None:
        self.engine = engine
        self.store = store
        self.queue = queue or WritingQueue()
        self.locks = StoryLocks(store)

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

    def set_memory(self, *, user_id: int, story_id: int, memory: str, authors_note: str,
                   note_depth: int | None = None) -> StoryView:
        """Save the story's memory and author's note (None keeps the note's depth); a refused value changes nothing."""
        self.store.run(lambda s: storage.set_memory(s, user_id=user_id, story_id=story_id, memory=memory,
                                                    authors_note=authors_note, note_depth=note_depth))
        return self.load(user_id=user_id, story_id=story_id)

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
        node = _node_at(self.load(user_id=user_id, story_id=story_id), index)
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

    # ------------------------------------------------------------------ writing
    def suggest_keywords(self, *, user_id: int, story_id: int, seed: int | None = None) -> list[str]:
        view = self.load(user_id=user_id, story_id=story_id, with_bible=True)
        with self.queue.ticket():
            return suggest(self.engine.get(), _context(view, len(view.nodes)), seed)

    def stream_write(self, *, user_id: int, story_id: int, request: StepRequest) -> Iterator[Delta | StoryView]:
        """Stream the next sentence, save it after the head, then yield the story."""
        with self.locks.hold(story_id, user_id):
            view = self.load(user_id=user_id, story_id=story_id, with_bible=True)
            index = len(view.nodes) + 1
            step = yield from self._sentence(self.engine.get(), _context(view, index - 1), index, request)
            self._save(user_id, view, lambda s: storage.append_node(
                s, user_id=user_id, story_id=story_id, text=step.sentence, provenance=provenance(step)))
            yield self.load(user_id=user_id, story_id=story_id)

    def stream_regenerate(
        self, *, user_id: int, story_id: int, index: int, request: StepRequest, keep_following: bool = False
    ) -> Iterator[Delta | StoryView]:
        """Write sentence `index` again as a new version; optionally rewrite the later ones with their keywords."""
        with self.locks.hold(story_id, user_id):
            view = self.load(user_id=user_id, story_id=story_id, with_bible=True)
            node = _node_at(view, index)
            engine = self.engine.get()
            step = yield from self._sentence(engine, _context(view, index - 1), index, request)
            texts = [n.text for n in view.nodes[: index - 1]] + [step.sentence]
            records: list[tuple[str, Provenance]] = [(step.sentence, provenance(step))]
            for later in view.nodes[index:] if keep_following else []:
                context = replace(_context(view, 0), sentences=tuple(texts))
                again = replace(request, keywords=later.provenance.keywords, pinned=(), vetoed=())
                next_step = yield from self._sentence(engine, context, len(texts) + 1, again)
                texts.append(next_step.sentence)
                records.append((next_step.sentence, provenance(next_step)))
            self._replace_from(user_id, view, node, records)
            yield self.load(user_id=user_id, story_id=story_id)

    def token_alternatives(self, *, user_id: int, story_id: int, index: int) -> list[dict]:
        """Each token of sentence `index` as written, with its probability and the runners-up."""
        node = _node_at(self.load(user_id=user_id, story_id=story_id), index)
        return _recorded_tokens(node, index)

    def stream_continue_from_token(
        self, *, user_id: int, story_id: int, index: int, position: int, token: str | int, request: StepRequest
    ) -> Iterator[Delta | StoryView]:
        """Write sentence `index` again from its first `position` tokens plus `token` (an alternative
        shown at `position`, by text or id), as a new version; its keywords and guidance still apply."""
        with self.locks.hold(story_id, user_id):
            view = self.load(user_id=user_id, story_id=story_id, with_bible=True)
            node = _node_at(view, index)
            tokens = _recorded_tokens(node, index)
            if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(tokens):
                raise AppError(f"sentence {index} has {len(tokens)} tokens; position must be 0-{len(tokens) - 1}")
            chosen = _pick_token(tokens[position], token, position)
            prefix = tuple(t["id"] for t in tokens[:position]) + (chosen,)
            again = replace(request, keywords=request.keywords or node.provenance.keywords, prefix_tokens=prefix)
            step = yield from self._sentence(self.engine.get(), _context(view, index - 1), index, again)
            self._replace_from(user_id, view, node, [(step.sentence, provenance(step)), *_tail(view, index)])
            yield self.load(user_id=user_id, story_id=story_id)

    def _sentence(self, engine, context: StoryContext, index: int, request: StepRequest):
        """Stream one sentence when the writing queue admits it; returns its Step (`yield from`)."""
        with self.queue.ticket():
            return (yield from _collect(stream_sentence(engine, context, index, request)))

    def edit_sentence(self, *, user_id: int, story_id: int, index: int, text: str) -> StoryView:
        """Save the writer's text as a new version of sentence `index`; later sentences stay."""
        with self.locks.hold(story_id, user_id):
            view = self.load(user_id=user_id, story_id=story_id)
            node = _node_at(view, index)
            text = (text or "").strip()
            if not text:
                raise AppError("a sentence cannot be empty; use undo to remove the last one")
            if text == node.text:
                return view
            edited = replace(node.provenance, source="edited", candidates=[], chosen=None, tokens=[])
            self._replace_from(user_id, view, node, [(text, edited), *_tail(view, index)])
            return self.load(user_id=user_id, story_id=story_id)

    def choose_candidate(self, *, user_id: int, story_id: int, index: int, candidate: int) -> StoryView:
        """Make candidate `candidate` (0-based) the text of sentence `index`; later sentences stay."""
        with self.locks.hold(story_id, user_id):
            view = self.load(user_id=user_id, story_id=story_id)
            node = _node_at(view, index)
            candidates = node.provenance.candidates
            if not 0 <= candidate < len(candidates):
                raise AppError(f"sentence {index} has {len(candidates)} candidate(s)")
            if candidate == node.provenance.chosen:
                return view
            record = replace(node.provenance, chosen=candidate)
            self._replace_from(user_id, view, node, [(candidates[candidate], record), *_tail(view, index)])
            return self.load(user_id=user_id, story_id=story_id)

    # ------------------------------------------------------------------ moving the head
    def undo(self, *, user_id: int, story_id: int) -> StoryView:
        """Take back the last change: a regenerate or edit returns the old version, a write removes the sentence."""
        def work(session: Session) -> None:
            story = get_story(session, user_id=user_id, story_id=story_id, for_update=True)
            before = storage.undo_move(session, story_id=story_id, head=story.head_node_id)
            if before is not None:
                storage.choose_node(session, user_id=user_id, story_id=story_id, node_id=before)
            elif story.head_node_id is None:
                raise AppError("nothing to undo")
            else:
                storage.undo(session, user_id=user_id, story_id=story_id)

        with self.locks.hold(story_id, user_id):
            self.store.run(work)
            return self.load(user_id=user_id, story_id=story_id)

    def redo(self, *, user_id: int, story_id: int) -> StoryView:
        def work(session: Session) -> None:
            story = get_story(session, user_id=user_id, story_id=story_id, for_update=True)
            after = storage.redo_move(session, story_id=story_id, head=story.head_node_id)
            if after is not None:
                storage.choose_node(session, user_id=user_id, story_id=story_id, node_id=after)
            elif not story.redo_stack:
                raise AppError("nothing to redo")
            else:
                storage.redo(session, user_id=user_id, story_id=story_id)

        with self.locks.hold(story_id, user_id):
            self.store.run(work)
            return self.load(user_id=user_id, story_id=story_id)

    def make_current(self, *, user_id: int, story_id: int, node_id: int) -> StoryView:
        """Make any version in the tree the story's current end."""
        with self.locks.hold(story_id, user_id):
            view = self.load(user_id=user_id, story_id=story_id)
            self._save(user_id, view, lambda s: storage.choose_node(s, user_id=user_id, story_id=story_id, node_id=node_id),
                       replacing=True)
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

    # ------------------------------------------------------------------ saving
    def _save(self, user_id: int, view: StoryView, write, *, replacing: bool = False) -> int:
        """Run `write` if the story's head is still where `view` saw it; returns the new head.

        A replacing change (a new version, a candidate switch, another version made current)
        is recorded for undo in the same transaction; any change ends what redo could replay.
        """
        def work(session: Session) -> int:
            story = get_story(session, user_id=user_id, story_id=view.id, for_update=True)
            if story.head_node_id != view.head_node_id:
                raise AppError("the story changed in another window; it has been reloaded, try again")
            write(session)
            if replacing:
                storage.record_move(session, story_id=view.id, before=view.head_node_id, after=story.head_node_id)
            else:
                storage.forget_redo(session, story_id=view.id)
            return story.head_node_id
        return self.store.run(work)

    def _replace_from(self, user_id: int, view: StoryView, node: NodeView, records: list[tuple[str, Provenance]]) -> None:
        """A new version of `node` followed by `records[1:]`; undo returns to the old head."""
        def write(session: Session) -> None:
            first_text, first = records[0]
            storage.add_sibling(session, user_id=user_id, story_id=view.id, node_id=node.id, text=first_text, provenance=first)
            for text, record in records[1:]:
                storage.append_node(session, user_id=user_id, story_id=view.id, text=text, provenance=record)
        self._save(user_id, view, write, replacing=True)


def _collect(stream: Iterator[Delta | Step]):
    """Re-yield the deltas of a sentence stream and return its Step (for `yield from`)."""
    step = None
    for item in stream:
        if isinstance(item, Step):
            step = item
        else:
            yield item
    return step


def _context(view: StoryView, sentences: int) -> StoryContext:
    """The premise, the first `sentences` sentences, the story's memory and author's note, and its bible."""
    return StoryContext(view.premise, tuple(n.text for n in view.nodes[:sentences]), memory=view.memory,
                        authors_note=view.authors_note, note_depth=view.note_depth,
                        bible=tuple(BibleEntry(e.name, tuple(e.keys), e.text, e.always, e.id) for e in view.bible))


def _checked_entry(name, keys, text, always) -> storage.EntryInput:
    try:
        return storage.EntryInput.checked(name, keys, text, always)
    except storage.InvalidInput as error:
        raise AppError(str(error)) from None


def _node_at(view: StoryView, index: int) -> NodeView:
    if not isinstance(index, int) or not 1 <= index <= len(view.nodes):
        raise AppError(f"there is no sentence {index}; the story has {len(view.nodes)}")
    return view.nodes[index - 1]


def _recorded_tokens(node: NodeView, index: int) -> list[dict]:
    """The tokens recorded for the shown candidate of a sentence, or a message saying why there are none."""
    rows, chosen = node.provenance.tokens, node.provenance.chosen or 0
    if chosen < len(rows) and rows[chosen]:
        return rows[chosen]
    raise AppError(f"sentence {index} has no recorded tokens (it was typed or edited, or written before "
                   "tokens were recorded); regenerate it to see alternatives")


def _pick_token(choice: dict, token: str | int, position: int) -> int:
    """The id of `token` among the written token and the alternatives at one position."""
    options = [choice, *choice.get("alternatives", [])]
    text = token.strip() if isinstance(token, str) else None
    exact = [o for o in options if token in (o["text"], o["id"]) or text == str(o["id"])]
    loose = [o for o in options if text and text == o["text"].strip()]  # " rain" asked for as "rain"
    if exact or loose:
        return int((exact or loose)[0]["id"])
    shown = ", ".join(repr(o["text"]) for o in options)
    raise AppError(f"{str(token)[:40]!r} is not one of the tokens shown at position {position}: {shown}")


def _tail(view: StoryView, index: int) -> list[tuple[str, Provenance]]:
    """The sentences after `index`, to re-attach after a new version of it."""
    return [(n.text, n.provenance) for n in view.nodes[index:]]


def _title_of(premise: str) -> str:
    first = " ".join(premise.split())
    return first if len(first) <= TITLE_FROM_PREMISE else first[: TITLE_FROM_PREMISE - 1].rstrip() + "…"

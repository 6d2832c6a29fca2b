"""The writing part of the story service: write, regenerate, edit, choose, undo and redo.

Generation runs outside any database transaction; the result is written in a short
transaction that checks the story did not move meanwhile. A per-story lock refuses a
second concurrent writer, so a double click writes one sentence. Undo and redo are
storage's (`storage.undo`, `storage.redo`): this part only holds the lock around them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace

from sqlalchemy.orm import Session

import storage
from app.admission import WritingQueue
from app.engine_handle import EngineHandle
from app.errors import AppError
from app.service_library import StoryLibrary, node_at
from app.writing import StepRequest, StreamedText, provenance, stream_sentence, suggest
from engine.bible import LoreEntry
from engine.types import Step, StoryContext
from storage import NodeView, Provenance, StoryView, get_story


class StoryWriting:
    """Writing into a story of the library's, with the library's store and locks."""

    def __init__(self, *, library: StoryLibrary, engine: EngineHandle, queue: WritingQueue | None = None) -> None:
        self.library = library
        self.engine = engine
        self.queue = queue or WritingQueue()

    def _load(self, user_id: int, story_id: int, *, with_bible: bool = False) -> StoryView:
        return self.library.load(user_id=user_id, story_id=story_id, with_bible=with_bible)

    def suggest_keywords(self, *, user_id: int, story_id: int, seed: int | None = None) -> list[str]:
        view = self._load(user_id, story_id, with_bible=True)
        with self.queue.ticket():
            return suggest(self.engine.get(), story_context(view, len(view.nodes)), seed)

    def stream_write(self, *, user_id: int, story_id: int, request: StepRequest) -> Iterator[StreamedText | StoryView]:
        """Stream the next sentence, save it after the head, then yield the story."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id, with_bible=True)
            index = len(view.nodes) + 1
            step = yield from self._sentence(self.engine.get(), story_context(view, index - 1), index, request)
            self._save(user_id, view, lambda s: storage.append_node(
                s, user_id=user_id, story_id=story_id, text=step.sentence, provenance=provenance(step)))
            yield self._load(user_id, story_id)

    def stream_regenerate(
        self, *, user_id: int, story_id: int, index: int, request: StepRequest, keep_following: bool = False
    ) -> Iterator[StreamedText | StoryView]:
        """Write sentence `index` again as a new version; optionally rewrite the later ones with their keywords."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id, with_bible=True)
            node = node_at(view, index)
            engine = self.engine.get()
            step = yield from self._sentence(engine, story_context(view, index - 1), index, request)
            texts = [n.text for n in view.nodes[: index - 1]] + [step.sentence]
            records: list[tuple[str, Provenance]] = [(step.sentence, provenance(step))]
            for later in view.nodes[index:] if keep_following else []:
                context = replace(story_context(view, 0), sentences=tuple(texts))
                again = replace(request, keywords=later.provenance.keywords, pinned=(), vetoed=())
                next_step = yield from self._sentence(engine, context, len(texts) + 1, again)
                texts.append(next_step.sentence)
                records.append((next_step.sentence, provenance(next_step)))
            self._replace_from(user_id, view, node, records)
            yield self._load(user_id, story_id)

    def stream_revise(self, *, user_id: int, story_id: int, index: int, request: StepRequest) -> Iterator[StreamedText | StoryView]:
        """Write sentence `index` again as a new version; the later sentences stay as they are (undo returns it)."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id, with_bible=True)
            node = node_at(view, index)
            step = yield from self._sentence(self.engine.get(), story_context(view, index - 1), index, request)
            self._replace_from(user_id, view, node, [(step.sentence, provenance(step)), *_tail(view, index)])
            yield self._load(user_id, story_id)

    def token_alternatives(self, *, user_id: int, story_id: int, index: int) -> list[dict]:
        """Each token of sentence `index` as written, with its probability and the runners-up."""
        node = node_at(self._load(user_id, story_id), index)
        return _recorded_tokens(node, index)

    def stream_continue_from_token(
        self, *, user_id: int, story_id: int, index: int, position: int, token: str | int, request: StepRequest
    ) -> Iterator[StreamedText | StoryView]:
        """Write sentence `index` again from its first `position` tokens plus `token` (an alternative
        shown at `position`, by text or id), as a new version; its keywords and guidance still apply."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id, with_bible=True)
            node = node_at(view, index)
            tokens = _recorded_tokens(node, index)
            if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(tokens):
                raise AppError(f"sentence {index} has {len(tokens)} tokens; position must be 0-{len(tokens) - 1}")
            chosen = _pick_token(tokens[position], token, position)
            prefix = tuple(t["id"] for t in tokens[:position]) + (chosen,)
            again = replace(request, keywords=request.keywords or node.provenance.keywords, prefix_tokens=prefix)
            step = yield from self._sentence(self.engine.get(), story_context(view, index - 1), index, again)
            self._replace_from(user_id, view, node, [(step.sentence, provenance(step)), *_tail(view, index)])
            yield self._load(user_id, story_id)

    def _sentence(self, engine, context: StoryContext, index: int, request: StepRequest):
        """Stream one sentence when the writing queue admits it; returns its Step (`yield from`)."""
        with self.queue.ticket():
            return (yield from _collect(stream_sentence(engine, context, index, request), between=self.queue.check))

    def edit_sentence(self, *, user_id: int, story_id: int, index: int, text: str) -> StoryView:
        """Save the writer's text as a new version of sentence `index`; later sentences stay."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id)
            node = node_at(view, index)
            text = (text or "").strip()
            if not text:
                raise AppError("a sentence cannot be empty; use undo to remove the last one")
            if text == node.text:
                return view
            edited = replace(node.provenance, source="edited", candidates=[], chosen=None, tokens=[], coherence=[])
            self._replace_from(user_id, view, node, [(text, edited), *_tail(view, index)])
            return self._load(user_id, story_id)

    def choose_candidate(self, *, user_id: int, story_id: int, index: int, candidate: int) -> StoryView:
        """Make candidate `candidate` (0-based) the text of sentence `index`; later sentences stay."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id)
            node = node_at(view, index)
            candidates = node.provenance.candidates
            if not 0 <= candidate < len(candidates):
                raise AppError(f"sentence {index} has {len(candidates)} candidate(s)")
            if candidate == node.provenance.chosen:
                return view
            record = replace(node.provenance, chosen=candidate)
            self._replace_from(user_id, view, node, [(candidates[candidate], record), *_tail(view, index)])
            return self._load(user_id, story_id)

    # ------------------------------------------------------------------ moving the head
    def undo(self, *, user_id: int, story_id: int) -> StoryView:
        """Take back the last change: a regenerate or edit returns the old version, a write removes the sentence."""
        with self.library.locks.hold(story_id, user_id):
            self.library.store.run(lambda s: storage.undo(s, user_id=user_id, story_id=story_id))
            return self._load(user_id, story_id)

    def redo(self, *, user_id: int, story_id: int) -> StoryView:
        with self.library.locks.hold(story_id, user_id):
            self.library.store.run(lambda s: storage.redo(s, user_id=user_id, story_id=story_id))
            return self._load(user_id, story_id)

    def make_current(self, *, user_id: int, story_id: int, node_id: int) -> StoryView:
        """Make any version in the tree the story's current end."""
        with self.library.locks.hold(story_id, user_id):
            view = self._load(user_id, story_id)
            self._save(user_id, view, lambda s: storage.choose_node(s, user_id=user_id, story_id=story_id,
                                                                    node_id=node_id))
            return self._load(user_id, story_id)

    # ------------------------------------------------------------------ saving
    def _save(self, user_id: int, view: StoryView, write: Callable[[Session], object]) -> int:
        """Run `write` if the story's head is still where `view` saw it; returns the new head.

        Storage records what undo takes back: `append_node` ends what redo could replay;
        `replace_from` and `choose_node` record a change that undo returns from.
        """
        def work(session: Session) -> int:
            story = get_story(session, user_id=user_id, story_id=view.id, for_update=True)
            if story.head_node_id != view.head_node_id:
                raise AppError("the story changed in another window; it has been reloaded, try again")
            write(session)
            return story.head_node_id
        return self.library.store.run(work)

    def _replace_from(self, user_id: int, view: StoryView, node: NodeView, records: list[tuple[str, Provenance]]) -> None:
        """A new version of `node` followed by `records[1:]`; undo returns to the old head."""
        self._save(user_id, view, lambda s: storage.replace_from(s, user_id=user_id, story_id=view.id, node_id=node.id,
                                                                 records=records))


def _collect(stream: Iterator[StreamedText | Step], *, between: Callable[[], None] = lambda: None):
    """Re-yield the streamed text of a sentence and return its Step (for `yield from`).

    `between` runs after each token; when it raises (the server is stopping) the stream is
    closed, so the engine computes no further token and nothing of the sentence is saved.
    """
    step = None
    with closing(stream):
        for item in stream:
            between()
            if isinstance(item, Step):
                step = item
            else:
                yield item
    return step


def story_context(view: StoryView, sentences: int) -> StoryContext:
    """The premise, the first `sentences` sentences, the story's memory and author's note, and its bible."""
    return StoryContext(view.premise, tuple(n.text for n in view.nodes[:sentences]), memory=view.memory,
                        authors_note=view.authors_note, note_depth=view.note_depth,
                        bible=tuple(LoreEntry(e.name, tuple(e.keys), e.text, e.always, e.id) for e in view.bible))


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

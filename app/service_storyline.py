"""The storyline part of the story service: plan the story's keywords, edit the plan, write to it.

A story's storyline (stored with it, `storage.set_storyline`) holds one slot per sentence: slot i
is the keywords of sentence i (1 = the first after the premise). Planning fills the slots of the
sentences already written with the keywords they were written with, and asks the engine for the
next K (`engine.storyline`); re-planning from slot j keeps slots 1 to j-1. Writing to the plan
writes each planned sentence not yet written, and writes again (a new version, the others kept,
undo takes it back) each written sentence whose slot now differs from its keywords.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import storage
from app.errors import AppError
from app.service_writing import StoryWriting, story_context
from app.writing import StepRequest, StreamedText, plan
from engine.prompts import parse_storyline, storyline_text
from engine.storyline import DEFAULT_SLOTS, check_slots, clean_slots
from storage import StoryView

Slots = list[list[str]]


@dataclass(frozen=True)
class PlanResult:
    """The story after planning or editing its storyline, and what the writer should know."""

    view: StoryView
    notes: list[str] = field(default_factory=list)

    @property
    def slots(self) -> Slots:
        return slots_of(self.view)

    def to_dict(self) -> dict:
        return {"slots": self.slots, "text": storyline_text(self.slots),
                "source": self.view.storyline.get("source", ""), "notes": list(self.notes)}


def slots_of(view: StoryView) -> Slots:
    """The story's planned slots ([] when it has no plan)."""
    return [list(s) for s in view.storyline.get("slots", [])]


def written_slots(view: StoryView, count: int) -> Slots:
    """The keywords the first `count` sentences were written with (the plan's slot where none were recorded)."""
    planned = slots_of(view)
    return [list(n.provenance.keywords) or (planned[i] if i < len(planned) else [])
            for i, n in enumerate(view.nodes[:count])]


def parse_slots(value: str | Sequence[str | Sequence[str]]) -> Slots:
    """Slots as a script or the page sends them: "a, b | c | | d", or a list of texts or lists."""
    if isinstance(value, str):
        return parse_storyline(value) if value.strip() else []
    return [[k.strip() for k in (s.split(",") if isinstance(s, str) else s) if str(k).strip()] for s in value]


def planning_context(view: StoryView, sentences: int):
    """The story the planner sees: the title (when the writer gave one of its own) above the premise,
    then the first `sentences` sentences, as Plan-and-Write plans from the title."""
    context = story_context(view, sentences)
    title = view.title.strip()
    if title and not " ".join(view.premise.split()).startswith(title.rstrip("…").strip()):  # not the default
        context = replace(context, premise=f"{title}\n{context.premise}")
    return context


def same_keywords(slot: Sequence[str], written: Sequence[str]) -> bool:
    return {k.lower() for k in slot} == {k.lower() for k in written}


class StoryPlanning:
    """Planning and writing to a story's storyline, with the writing part's engine and locks."""

    def __init__(self, *, writing: StoryWriting) -> None:
        self.writing = writing
        self.library = writing.library

    def plan_story(self, *, user_id: int, story_id: int, sentences: int = DEFAULT_SLOTS,
                   from_slot: int | None = None, seed: int | None = None) -> PlanResult:
        """Plan the next `sentences` sentences after the written ones, or (with `from_slot`) plan the
        plan's slots from `from_slot` on again, keeping the slots before it and every sentence."""
        view = self.library.load(user_id=user_id, story_id=story_id, with_bible=True)
        written, planned = len(view.nodes), slots_of(view)
        if from_slot is None:
            keep, total = written, written + _count(sentences)
        else:
            if not 1 <= from_slot <= max(len(planned), written) + 1:
                raise AppError(f"re-plan from a slot between 1 and {max(len(planned), written) + 1}")
            keep, total = from_slot - 1, max(len(planned), from_slot)
        done = min(written, keep)
        kept = (written_slots(view, done) + planned[done:keep])[:keep]
        kept += [[] for _ in range(keep - len(kept))]
        notes = [f"the story has {written} sentence(s): their keywords fill slots 1-{written}; "
                 f"slots {keep + 1}-{total} are planned"] if written and from_slot is None else []
        with self.writing.queue.ticket():
            found = plan(self.writing.engine.get(), planning_context(view, done), total - done, kept[done:], seed)
        slots = kept[:done] + list(found.slots)
        self.library.store.run(lambda s: storage.set_storyline(s, user_id=user_id, story_id=story_id,
                                                               storyline={"slots": slots, "source": found.source}))
        return PlanResult(self.library.load(user_id=user_id, story_id=story_id), notes + list(found.notes))

    def set_storyline(self, *, user_id: int, story_id: int, slots: str | Sequence) -> PlanResult:
        """Save the writer's slots (each cleaned as keywords are; empty ones are predicted at write time)."""
        view = self.library.load(user_id=user_id, story_id=story_id)
        cleaned, notes = clean_slots(parse_slots(slots), story=" ".join([view.premise, view.text]))
        if not cleaned:
            raise AppError("the storyline is empty: give at least one slot, or press Plan")
        source = view.storyline.get("source", "writer") if cleaned == slots_of(view) else "writer"
        self.library.store.run(lambda s: storage.set_storyline(s, user_id=user_id, story_id=story_id,
                                                               storyline={"slots": cleaned, "source": source}))
        return PlanResult(self.library.load(user_id=user_id, story_id=story_id), notes)

    def stream_write_to_plan(self, *, user_id: int, story_id: int, request: StepRequest | None = None
                             ) -> Iterator[StreamedText | StoryView]:
        """Write every planned sentence that is not written as planned, streaming each; yields the story
        after each one. A failure names what was saved before it; nothing written is taken back."""
        view = self.library.load(user_id=user_id, story_id=story_id)
        slots = slots_of(view)
        if not slots:
            raise AppError("this story has no storyline yet: press Plan (or type keywords into the slots) first")
        saved: list[int] = []
        request = request or StepRequest()
        for index, slot in enumerate(slots, start=1):
            try:
                after = yield from self._write_slot(user_id, view, index, slot, request)
            except AppError as error:
                kept = f"sentence(s) {', '.join(map(str, saved))} were written and saved; " if saved else ""
                raise AppError(f"{kept}sentence {index} was not written: {error}") from None
            if after is not None:
                view = after
                saved.append(index)
        if not saved:
            yield self.library.load(user_id=user_id, story_id=story_id)

    def _write_slot(self, user_id: int, view: StoryView, index: int, slot: list[str], request: StepRequest):
        """Write sentence `index` to its slot if it is not written as planned; the story after, or None."""
        story_id, nodes = view.id, view.nodes
        if index <= len(nodes) and (not slot or same_keywords(slot, nodes[index - 1].provenance.keywords)):
            return None
        asked = replace(request, keywords=list(slot))
        if index <= len(nodes):
            stream = self.writing.stream_revise(user_id=user_id, story_id=story_id, index=index, request=asked)
        else:
            stream = self.writing.stream_write(user_id=user_id, story_id=story_id, request=asked)
        after = None
        for item in stream:
            if isinstance(item, StreamedText):
                yield item
            else:
                after = item
        if not slot:  # predicted at write time: the plan records what was used
            self._fill_slot(user_id, after, index)
            after = self.library.load(user_id=user_id, story_id=story_id)
        yield after
        return after

    def _fill_slot(self, user_id: int, view: StoryView, index: int) -> None:
        slots = slots_of(view)
        slots[index - 1] = list(view.nodes[index - 1].provenance.keywords)
        plan_ = {"slots": slots, "source": view.storyline.get("source", "writer")}
        self.library.store.run(lambda s: storage.set_storyline(s, user_id=user_id, story_id=view.id, storyline=plan_))


def _count(sentences) -> int:
    """The number of sentences to plan, as the page or a script sends it (`check_slots` owns the limit)."""
    try:
        return check_slots(sentences)
    except ValueError as error:
        raise AppError(str(error)) from None

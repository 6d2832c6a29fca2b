"""The editor's Storyline panel, above the rows: the story's plan as editable keyword slots.

Slot i holds the keywords of sentence i. **Plan** predicts the next sentences' keywords at once
(the written sentences keep theirs), **Re-plan from here** plans again from a slot and keeps the
slots before it, **Write to plan** writes each planned sentence, streaming it, and writes again
each written sentence whose slot was edited (a new version; undo takes it back). The plan is the
story's (StoryService.plan_story, set_storyline, stream_write_to_plan), so a reload keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.errors import AppError
from app.handlers import Handlers, PanelActions, no_story, page_errors, streamed
from app.service_storyline import PlanResult, parse_slots, slots_of
from app.ui_format import params_from_panel
from app.writing import StepRequest
from engine.storyline import DEFAULT_SLOTS, MAX_SLOTS

PAGE_SLOTS = 12  # slot boxes on the page; a longer plan keeps its later slots as they are


@dataclass
class StorylineBox:
    """The panel's components."""

    count: gr.Number
    from_slot: gr.Number
    plan: gr.Button
    replan: gr.Button
    write: gr.Button
    slots: list[gr.Textbox]
    notes: gr.Markdown


def storyline_box() -> StorylineBox:
    """The panel (call where it should appear: above the rows); wire it with `wire_storyline`."""
    with gr.Accordion("Storyline: one slot of keywords per sentence", open=True, elem_id="storyline-panel"):
        with gr.Row(equal_height=True):
            count = gr.Number(DEFAULT_SLOTS, precision=0, minimum=1, maximum=MAX_SLOTS, label="Sentences to plan",
                              elem_id="plan-count", scale=1)
            plan = gr.Button("Plan", elem_id="plan-story", scale=1)
            from_slot = gr.Number(1, precision=0, minimum=1, label="Re-plan from slot", elem_id="replan-from", scale=1)
            replan = gr.Button("Re-plan from here", elem_id="replan-story", scale=1)
            write = gr.Button("Write to plan", variant="primary", elem_id="write-to-plan", scale=1)
        with gr.Row():
            slots = [gr.Textbox(label=f"Slot {i}", visible=False, elem_id=f"slot-{i}", min_width=140,
                                placeholder="empty: predicted when written") for i in range(1, PAGE_SLOTS + 1)]
        notes = gr.Markdown("", elem_id="storyline-notes")
    return StorylineBox(count, from_slot, plan, replan, write, slots, notes)


def wire_storyline(handlers: Handlers, box: StorylineBox, story_id, view, live, panel: list) -> None:
    """The panel's events: show the open story's plan, plan, re-plan, write to the plan."""
    actions = StorylineActions(handlers)
    shown = [*box.slots, box.notes]
    story_id.change(actions.show_storyline, inputs=[story_id], outputs=shown, api_visibility="private")
    box.plan.click(actions.plan_sentences, inputs=[story_id, box.count], outputs=shown, api_name="plan_sentences")
    box.replan.click(actions.replan_from_slot, inputs=[story_id, box.from_slot, *box.slots], outputs=shown,
                     api_name="replan_from_slot")
    box.write.click(actions.write_planned_sentences, inputs=[story_id, *box.slots, *panel], outputs=[view, live],
                    api_name="write_planned_sentences", trigger_mode="once").then(
        actions.show_storyline, inputs=[story_id], outputs=shown, api_visibility="private")


class StorylineActions(PanelActions):
    """What the writer did in the panel, delegated to StoryService."""

    @page_errors
    def show_storyline(self, story_id, request: gr.Request):
        """The open story's slots (none shown when no story is open or it has no plan)."""
        if no_story(story_id):
            return slot_updates([], [])
        user, sid = self.handlers.story_ids(story_id, request)
        return slot_updates(slots_of(self.service.load(user_id=user, story_id=sid)), [])

    @page_errors
    def plan_sentences(self, story_id, count, request: gr.Request):
        user, sid = self.handlers.story_ids(story_id, request)
        return shown_result(self.service.plan_story(user_id=user, story_id=sid, sentences=_whole(count, "sentences")))

    @page_errors
    def replan_from_slot(self, request: gr.Request, story_id, from_slot, *values):
        """Save the slots as typed, then plan again from `from_slot`."""
        user, sid = self.handlers.story_ids(story_id, request)
        self.save_typed(user, sid, values)
        return shown_result(self.service.plan_story(user_id=user, story_id=sid, from_slot=_whole(from_slot, "slot")))

    @page_errors
    def write_planned_sentences(self, request: gr.Request, story_id, *values):
        """Save the slots as typed, then stream each planned sentence into the live row."""
        user, sid = self.handlers.story_ids(story_id, request)
        typed, panel = values[:PAGE_SLOTS], values[PAGE_SLOTS:]
        self.save_typed(user, sid, typed)
        step = StepRequest(params=params_from_panel(*panel))
        yield from streamed(self.service.stream_write_to_plan(user_id=user, story_id=sid, request=step))

    def save_typed(self, user: int, sid: int, values) -> None:
        """Save the page's slots when they differ from the stored plan (slots past the page kept)."""
        stored = slots_of(self.service.load(user_id=user, story_id=sid))
        typed = page_slots(stored, values)
        if typed and typed != stored:
            self.service.set_storyline(user_id=user, story_id=sid, slots=typed)


def page_slots(stored: list[list[str]], values) -> list[list[str]]:
    """The plan as the page shows it: its shown slots as typed, then the stored slots past the page.

    Without a stored plan, the typed slots up to the last one filled in.
    """
    typed = parse_slots([str(v or "") for v in values])
    shown = min(len(stored), PAGE_SLOTS)
    if not stored:
        filled = [i for i, slot in enumerate(typed) if slot]
        return typed[: filled[-1] + 1] if filled else []
    return typed[:shown] + stored[shown:]


def slot_updates(slots: list[list[str]], notes: list[str]):
    """Every slot box (shown with its keywords, or hidden) and the notes line."""
    boxes = [gr.update(value=", ".join(slots[i]) if i < len(slots) else "", visible=i < len(slots))
             for i in range(PAGE_SLOTS)]
    extra = [f"{len(slots) - PAGE_SLOTS} later slot(s) are kept but not shown"] if len(slots) > PAGE_SLOTS else []
    return *boxes, "\n".join(f"- {n}" for n in [*notes, *extra])


def shown_result(result: PlanResult):
    return slot_updates(result.slots, result.notes)


def _whole(value, field: str) -> int:
    """A number box's value as a whole number (it may arrive as 4.0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AppError(f"{field} must be a whole number") from None
    if not number.is_integer():
        raise AppError(f"{field} must be a whole number, got {value}")
    return int(number)

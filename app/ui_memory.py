"""The editor's "Memory and author's note" panel: shows the open story's, saves the writer's.

Memory is placed before the story in every prompt; the author's note sits `depth` sentences
before the story's end. Both belong to the story (StoryService.set_memory) and every sentence
records what it was written with.
"""

from __future__ import annotations

import gradio as gr

from app.api import memory_saved
from app.errors import AppError
from app.handlers import Handlers, PanelActions, no_story, page_errors
from storage.validate import MAX_NOTE_DEPTH


def memory_panel(handlers: Handlers, story_id: gr.Textbox) -> None:
    """The collapsed panel, filled whenever another story is shown (call inside the Write tab)."""
    with gr.Accordion("Memory and author's note", open=False, elem_id="memory-panel"):
        memory = gr.Textbox(label="Memory: placed before the story in every prompt (characters, places, facts)",
                            lines=3, max_lines=12, elem_id="memory")
        note = gr.Textbox(label="Author's note: placed near the end of the prompt (tone, style, where to go next)",
                          lines=2, max_lines=8, elem_id="authors-note")
        with gr.Row(equal_height=True):
            depth = gr.Slider(0, MAX_NOTE_DEPTH, value=1, step=1, scale=3, elem_id="note-depth",
                              label="Note depth: sentences before the end (0 = after the story)")
            save = gr.Button("Save memory and note", scale=1, elem_id="save-memory")
        saved = gr.Markdown("", elem_id="memory-saved")
    panel = MemoryPanel(handlers)
    story_id.change(panel.show_memory, inputs=[story_id], outputs=[memory, note, depth, saved],
                    api_visibility="private")
    save.click(panel.save_memory, inputs=[story_id, memory, note, depth], outputs=[memory, note, depth, saved],
               api_name="save_memory")


class MemoryPanel(PanelActions):
    """The panel's handlers: what the writer did, delegated to StoryService."""

    @page_errors
    def show_memory(self, story_id, request: gr.Request):
        """The shown story's memory, note and depth (empty when no story is open)."""
        if no_story(story_id):
            return "", "", 1, ""
        user, sid = self.handlers.story_ids(story_id, request)
        view = self.service.load(user_id=user, story_id=sid)
        return view.memory, view.authors_note, view.note_depth, ""

    @page_errors
    def save_memory(self, story_id, memory: str, note: str, depth, request: gr.Request):
        """Save all three; a refused value leaves the stored ones and the typed text as they were."""
        user, sid = self.handlers.story_ids(story_id, request)
        view = self.service.set_memory(user_id=user, story_id=sid, memory=memory or "",
                                       authors_note=note or "", note_depth=_depth(depth))
        return view.memory, view.authors_note, view.note_depth, memory_saved(view)


def _depth(value) -> int:
    """The slider's value as a whole number (it may arrive as 2.0)."""
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        raise AppError(f"the note depth must be a whole number from 0 to {MAX_NOTE_DEPTH}") from None

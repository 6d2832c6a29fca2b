"""The editor's "Story bible" panel: the open story's entries, a filter, and a form to add, edit or delete one.

An entry (a character, a place, an object, a rule of the world) has a name, trigger keys and a
text. When one of its keys appears in a sentence's keywords or in the latest sentences, the
entry is ranked beside the retrieved knowledge; an entry flagged "always include" is in every
prompt. A bible may hold 10,000 entries, so the table lists at most SHOWN of those matching the
filter. Refusals are shown in the panel and leave the form as the writer typed it.
"""

from __future__ import annotations

import functools
from html import escape

import gradio as gr

from app.errors import AppError
from app.handlers import Handlers, PanelActions, no_story
from app.store import required_id
from storage import EntryView

SHOWN = 200  # table rows at most; the filter finds the others
TEXT_START = 80  # characters of an entry's text shown in the table
HEADERS = ["id", "name", "keys", "always", "text", "versions"]
HELP = ("Characters, places, objects and rules of the story's world. An entry joins a sentence's knowledge "
        "when one of its keys appears in the sentence's keywords or in the latest sentences; "
        "*always include* puts it in every prompt. Click a row to edit or delete that entry.")


def bible_panel(handlers: Handlers, story_id: gr.Textbox) -> None:
    """The collapsed panel, filled whenever another story is shown (call inside the Write tab)."""
    with gr.Accordion("Story bible", open=False, elem_id="bible-panel"):
        gr.Markdown(HELP)
        search = gr.Textbox(label="Filter by name, key or text", max_lines=1, elem_id="bible-filter")
        count = gr.HTML("", elem_id="bible-count", padding=False)
        table = gr.Dataframe(headers=HEADERS, datatype="str", interactive=False, max_height=360,
                             elem_id="bible-table")
        with gr.Row(equal_height=True):
            entry = gr.Number(label="Entry id (click a row)", precision=0, minimum=0, scale=1,
                              elem_id="bible-entry-id")
            name = gr.Textbox(label="Name", max_lines=1, scale=2, elem_id="bible-name")
            keys = gr.Textbox(label="Keys, comma-separated", max_lines=1, scale=3, elem_id="bible-keys")
            always = gr.Checkbox(False, label="Always include", scale=1, elem_id="bible-always")
        text = gr.Textbox(label="Text: who or what it is, in a sentence or two", lines=2, max_lines=8,
                          elem_id="bible-text")
        with gr.Row():
            add = gr.Button("Add as a new entry", variant="primary", elem_id="bible-add", size="sm")
            save = gr.Button("Save changes", elem_id="bible-save", size="sm")
            delete = gr.Button("Delete entry", variant="stop", elem_id="bible-delete", size="sm")
            clear = gr.Button("Clear form", elem_id="bible-clear", size="sm")
        status = gr.HTML("", elem_id="bible-status", padding=False)
    panel = BiblePanel(handlers)
    listing, form = [table, count], [entry, name, keys, text, always]
    private = {"api_visibility": "private"}
    story_id.change(panel.show_bible, inputs=[story_id, search], outputs=[*listing, entry, status], **private)
    search.input(panel.filter_bible, inputs=[story_id, search], outputs=[*listing, status],
                 trigger_mode="always_last", show_progress="hidden", **private)
    table.select(panel.pick_entry, inputs=[story_id], outputs=[*form, status], **private)
    add.click(panel.add_entry, inputs=[story_id, search, name, keys, text, always],
              outputs=[*listing, entry, status], **private)
    save.click(panel.save_entry, inputs=[story_id, search, *form], outputs=[*listing, status], **private)
    delete.click(panel.delete_entry, inputs=[story_id, search, entry], outputs=[*listing, *form, status], **private)
    clear.click(lambda: (None, "", "", "", False, ""), outputs=[*form, status], **private)


def refused_in_panel(outputs: int, prefix: str = "Not saved: "):
    """Show an AppError in the panel's status line; the other `outputs` (the form, the table) stay as they are."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except AppError as error:
                return (*[gr.skip()] * outputs, status_html(f"{prefix}{error}", refused=True))
        return call
    return wrap


class BiblePanel(PanelActions):
    """The panel's handlers: what the writer did, delegated to StoryService."""

    def show_bible(self, story_id, query: str, request: gr.Request):
        """The shown story's entries (none when no story is open); the form forgets which entry it
        was editing but keeps any text typed in it."""
        if no_story(story_id):
            return [], status_html("Start or open a story to keep its bible."), None, ""
        try:
            rows, line = self._listing(story_id, query, request)
        except AppError as error:
            return [], "", None, status_html(str(error), refused=True)
        return rows, line, None, ""

    @refused_in_panel(outputs=2, prefix="")
    def filter_bible(self, story_id, query: str, request: gr.Request):
        return *self._listing(story_id, query, request), gr.skip()

    @refused_in_panel(outputs=5, prefix="")
    def pick_entry(self, story_id, selected: gr.SelectData, request: gr.Request):
        """Fill the form with the entry of the clicked row, as stored now."""
        row = selected.row_value or []
        entry = self._entry(story_id, row[0] if row else None, request)
        return (entry.id, entry.name, ", ".join(entry.keys), entry.text, entry.always,
                status_html(f"Editing entry #{entry.id} “{entry.name}”: change it and press Save changes, "
                            "or Delete entry."))

    @refused_in_panel(outputs=3)
    def add_entry(self, story_id, query: str, name: str, keys: str, text: str, always: bool, request: gr.Request):
        user, sid = self.handlers.story_ids(story_id, request)
        entry = self.service.add_bible_entry(user_id=user, story_id=sid, name=name or "", keys=keys or "",
                                             text=text or "", always=bool(always))
        return *self._listing(story_id, query, request), entry.id, status_html(f"Added {_described(entry)}.")

    @refused_in_panel(outputs=2)
    def save_entry(self, story_id, query: str, entry_id, name: str, keys: str, text: str, always: bool,
                   request: gr.Request):
        user, sid = self.handlers.story_ids(story_id, request)
        entry = self.service.update_bible_entry(user_id=user, story_id=sid, entry_id=_entry_id(entry_id),
                                                name=name or "", keys=keys or "", text=text or "",
                                                always=bool(always))
        return (*self._listing(story_id, query, request),
                status_html(f"Saved {_described(entry)} (version {entry.versions})."))

    @refused_in_panel(outputs=7)
    def delete_entry(self, story_id, query: str, entry_id, request: gr.Request):
        user, sid = self.handlers.story_ids(story_id, request)
        entry = self._entry(story_id, entry_id, request)
        self.service.delete_bible_entry(user_id=user, story_id=sid, entry_id=entry.id)
        return (*self._listing(story_id, query, request), None, "", "", "", False,
                status_html(f"Deleted entry #{entry.id} “{entry.name}”; sentences written with it keep naming it."))

    def _listing(self, story_id, query: str, request) -> tuple[list[list[str]], str]:
        user, sid = self.handlers.story_ids(story_id, request)
        return listing(self.service.bible(user_id=user, story_id=sid), query)

    def _entry(self, story_id, entry_id, request) -> EntryView:
        user, sid = self.handlers.story_ids(story_id, request)
        wanted = _entry_id(entry_id)
        found = next((e for e in self.service.bible(user_id=user, story_id=sid) if e.id == wanted), None)
        if found is None:
            raise AppError(f"story {sid} has no bible entry {wanted} (it may have been deleted)")
        return found


def listing(entries: list[EntryView], query: str | None) -> tuple[list[list[str]], str]:
    """The table rows (at most SHOWN) of the entries matching `query`, and a line saying how many there are."""
    needle = " ".join((query or "").split()).casefold()
    matching = [e for e in entries if not needle or needle in _searched(e)]
    rows = [_row(e) for e in matching[:SHOWN]]
    return rows, status_html(_count_line(len(entries), len(matching), len(rows), needle))


def status_html(text: str, *, refused: bool = False) -> str:
    """One escaped line for the panel; a refusal is marked as such."""
    if not text:
        return ""
    if refused:
        return f"<p class='cntrl-refused' style='color: #b45309'>⚠ {escape(text)}</p>"
    return f"<p class='cntrl-muted'>{escape(text)}</p>"


def _count_line(total: int, matching: int, shown: int, needle: str) -> str:
    if total == 0:
        return "No entries yet: add a character, place, object or rule below."
    noun = "entry" if total == 1 else "entries"
    line = f"{matching:,} of {total:,} {noun} match “{needle}”" if needle else f"{total:,} {noun}"
    if shown < matching:
        line += f"; showing the first {shown:,} (type in the filter to find the others)"
    return line + "."


def _searched(entry: EntryView) -> str:
    return " ".join([entry.name, *entry.keys, entry.text]).casefold()


def _row(entry: EntryView) -> list[str]:
    text = " ".join(entry.text.split())
    start = text if len(text) <= TEXT_START else text[: TEXT_START - 1] + "…"
    return [str(entry.id), entry.name, ", ".join(entry.keys), "always" if entry.always else "", start,
            str(entry.versions)]


def _entry_id(value) -> int:
    return required_id(value, AppError("click an entry in the table first (or type its id)"))


def _described(entry: EntryView) -> str:
    keys = ", ".join(entry.keys) or "none"
    flag = "; always included" if entry.always else ""
    return f"entry #{entry.id} “{entry.name}” (keys: {keys}{flag})"

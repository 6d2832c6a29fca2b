"""The editor page: `build_demo(engine, store)` builds it; nothing loads or launches at import."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.admission import WritingQueue
from app.api import register_api
from app.engine_handle import EngineHandle
from app.handlers import Handlers
from app.library import Library
from app.service import StoryService
from app.store import Store
from app.ui_bible import bible_panel
from app.ui_keys import keyboard_shortcuts
from app.ui_memory import memory_panel
from app.ui_ratings import history_rating_box
from app.ui_reading import reading_view, wire_reading_view
from app.ui_rows import RowWiring, render_rows
from app.ui_storyline import storyline_box, wire_storyline
from engine.types import SamplingParams

READY_MARK = "<span id='page-ready'></span>"  # set once the page has loaded the writer's story
PRESETS = ("balanced", "precise", "creative", "greedy")
CSS = """
.cntrl-row { margin-bottom: 6px; }
.cntrl-facts td, .cntrl-facts th { padding: 2px 8px; text-align: left; }
.cntrl-muted { opacity: 0.7; }
"""
# Keep the open story in the address bar, so a reload or a bookmark brings it back.
STORY_IN_URL_JS = """(id) => { const u = new URL(window.location.href);
  if (id) { u.searchParams.set('story', id); } else { u.searchParams.delete('story'); }
  window.history.replaceState(null, '', u); }"""


def build_demo(engine, store: Store, *, defaults: SamplingParams | None = None,
               queue: WritingQueue | None = None) -> gr.Blocks:
    """The CNTRL Studio editor.

    Args:
        engine: A Pipeline, a FakeEngine, or an `EngineHandle` still loading one.
        store: The sessions database (`Store.open(url)`).
        defaults: Initial values of the sampling panel (the CLI's sampling flags).
        queue: The writing queue in front of the engine (default: one sentence at a time, 16 waiting).

    Returns:
        Blocks to `.launch()`; the stateless API endpoints are registered on it.
    """
    handle = EngineHandle.of(engine)
    handlers = Handlers.of(StoryService(engine=handle, store=store, queue=queue))
    library = Library(handlers)
    with gr.Blocks(title="CNTRL Studio") as demo:
        model_status(handle)
        page = editor_layout(demo, handlers, defaults or SamplingParams())
        wire_editor(demo, handlers, page)
        wire_library(library, page)
        wire_history(library, page)
        register_api(handlers)
    # Every request reaches the service at once: the writing queue (`app/admission.py`) decides
    # which sentences run, which wait and which are told "busy, position N"; the database's
    # writing lease refuses a second writer of one story. Gradio's default of one request per
    # event at a time would hold every other writer in its own unbounded line instead.
    demo.queue(default_concurrency_limit=None)
    demo.css = CSS
    return demo


@dataclass(frozen=True)
class NextBox:
    """Under the rows: the next sentence's keywords and the buttons that write it or take a change back."""

    keywords: gr.Textbox
    suggest: gr.Button
    write: gr.Button
    cont: gr.Button
    undo: gr.Button
    redo: gr.Button


@dataclass(frozen=True)
class WriteTab:
    """What the editor's events read and write in the Write tab."""

    premise: gr.Textbox
    title: gr.Textbox
    new_button: gr.Button
    panel: list[gr.components.Component]  # the sampling panel, seed last
    follow: gr.Checkbox
    rows: gr.Column
    live: gr.Textbox
    next: NextBox


@dataclass(frozen=True)
class StoriesTab:
    """The story list, its actions by story id, and the export and import files."""

    tab: gr.Tab
    table: gr.Dataframe
    show_deleted: gr.Checkbox
    refresh: gr.Button
    pick: gr.Number
    new_title: gr.Textbox
    buttons: dict[str, gr.Button]
    download: gr.File
    upload: gr.File
    import_button: gr.Button


@dataclass(frozen=True)
class HistoryTab:
    """Every version of every sentence, and what can be done with the picked one."""

    tab: gr.Tab
    versions: gr.Dropdown
    current: gr.Button
    fork: gr.Button


@dataclass(frozen=True)
class EditorPage:
    """The editor's components that its events read and write."""

    story_id: gr.Textbox
    view: gr.State
    write: WriteTab
    stories: StoriesTab
    history: HistoryTab
    ready: gr.HTML

    @property
    def shown(self) -> list:
        """The outputs of every event that shows another story: (story id, view, premise, title)."""
        return [self.story_id, self.view, self.write.premise, self.write.title]

    @property
    def url(self) -> dict:
        """A follow-up step that puts the shown story's id in the address bar."""
        return dict(fn=None, inputs=[self.story_id], js=STORY_IN_URL_JS, api_visibility="private")


def model_status(handle: EngineHandle) -> None:
    """The model's loading status, read on every page load and each second until the model is ready."""
    status = gr.Markdown(handle.status, elem_id="model-status")
    timer = gr.Timer(1.0, active=not handle.ready)
    timer.tick(lambda: (handle.status(), gr.Timer(active=not handle.ready)), outputs=[status, timer],
               api_visibility="private", show_progress="hidden")


def editor_layout(demo: gr.Blocks, handlers: Handlers, defaults: SamplingParams) -> EditorPage:
    """The page's three tabs, the sentence rows and the ready mark, with the events of their own panels."""
    story_id = gr.Textbox("", visible=False, elem_id="story-id")  # in the page, so the URL can show it
    view = gr.State(None)
    write = write_tab(demo, handlers, story_id, view, defaults)
    stories = stories_tab()
    history = history_tab(handlers, story_id, view)
    sentence_rows(write.rows, RowWiring(handlers, story_id, view, write.live, write.follow, write.panel))
    ready = gr.HTML("", elem_id="page-state", padding=False)
    return EditorPage(story_id, view, write, stories, history, ready)


def write_tab(demo: gr.Blocks, handlers: Handlers, story_id: gr.Textbox, view: gr.State,
              defaults: SamplingParams) -> WriteTab:
    with gr.Tab("Write", id="write"):
        premise, title, new_button = premise_box()
        panel, follow = sampling_panel(defaults)
        memory_panel(handlers, story_id)  # memory and author's note of the open story
        bible_panel(handlers, story_id)  # the open story's characters, places and rules
        storyline = storyline_box()  # the plan: one slot of keywords per sentence
        reading = reading_view()  # the story as prose, above the rows
        rows = gr.Column()
        live = gr.Textbox(label="Writing", interactive=False, elem_id="live", lines=1)
        next_sentence = next_box()
        keyboard_shortcuts(demo)  # the keys' help panel and listener
        wire_reading_view(reading, view, live)
        wire_storyline(handlers, storyline, story_id, view, live, panel)
    return WriteTab(premise, title, new_button, panel, follow, rows, live, next_sentence)


def sentence_rows(rows: gr.Column, wiring: RowWiring) -> None:
    """The shown story's sentences, one row each, drawn again whenever the story changes."""
    with rows:
        @gr.render(inputs=[wiring.view])
        def show_rows(current):
            render_rows(current, wiring)


def wire_editor(demo: gr.Blocks, handlers: Handlers, page: EditorPage) -> None:
    """Open the writer's story on load; start a story, suggest keywords, write, continue, undo, redo."""
    shown, url, write, next_sentence = page.shown, page.url, page.write, page.write.next
    demo.load(handlers.open_on_load, outputs=shown, api_name="open_last_story").then(
        lambda: READY_MARK, outputs=[page.ready], api_visibility="private").then(**url)
    write.new_button.click(handlers.start_story, inputs=[write.premise, write.title], outputs=shown,
                           api_name="start_story").then(**url)
    next_sentence.suggest.click(handlers.suggest_next_keywords, inputs=[page.story_id, write.panel[-1]],
                                outputs=[next_sentence.keywords], api_name="suggest_next_keywords")
    next_sentence.write.click(handlers.write_sentence, inputs=[page.story_id, next_sentence.keywords, *write.panel],
                              outputs=[page.view, write.live], api_name="write_sentence", trigger_mode="once").success(
        lambda: "", outputs=[next_sentence.keywords], api_visibility="private")  # the next sentence starts afresh
    next_sentence.cont.click(handlers.continue_story, inputs=[page.story_id, *write.panel],
                             outputs=[page.view, write.live], api_name="continue_story", trigger_mode="once")
    next_sentence.undo.click(handlers.undo_change, inputs=[page.story_id], outputs=[page.view],
                             api_name="undo_change")
    next_sentence.redo.click(handlers.redo_change, inputs=[page.story_id], outputs=[page.view],
                             api_name="redo_change")


def premise_box():
    with gr.Row():
        premise = gr.Textbox(label="Premise", placeholder="A title or a first sentence, e.g. 'Tom let his friend "
                             "borrow his phone.'", lines=2, scale=4, elem_id="premise")
        title = gr.Textbox(label="Title (optional)", scale=2, elem_id="title")
        new_button = gr.Button("New story", variant="primary", scale=1, elem_id="new-story")
    return premise, title, new_button


def sampling_panel(d: SamplingParams):
    """Preset, temperature, top-p, top-k, max tokens, candidates, knowledge top-N, guidance, seed."""
    with gr.Accordion("Sampling", open=False, elem_id="sampling"):
        with gr.Row():
            preset = gr.Dropdown(list(PRESETS), value=None, label="Preset (fills the sliders)", elem_id="preset")
            temperature = gr.Slider(0.0, 2.0, value=d.temperature, step=0.05, label="Temperature")
            top_p = gr.Slider(0.05, 1.0, value=d.top_p, step=0.01, label="Top-p")
            top_k = gr.Slider(0, 200, value=d.top_k, step=1, label="Top-k (0 = all)")
        with gr.Row():
            max_tokens = gr.Slider(4, 256, value=d.max_new_tokens, step=1, label="Max tokens")
            candidates = gr.Slider(1, 8, value=d.n_candidates, step=1, label="Candidates N", elem_id="candidates")
            top_n = gr.Slider(0, 20, value=d.knowledge_top_n, step=1, label="Knowledge top-N")
            strength = gr.Slider(0.0, 10.0, value=d.keyword_strength, step=0.5, label="Keyword guidance")
            seed = gr.Number(value=-1 if d.seed is None else d.seed, precision=0, label="Seed (-1 = random)",
                             elem_id="seed")
        follow = gr.Checkbox(False, label="Regenerate also rewrites the later sentences, keeping their keywords",
                             elem_id="follow")
    sliders = [temperature, top_p, top_k]
    preset.change(_preset_values, inputs=[preset], outputs=sliders, api_visibility="private")
    return [preset, temperature, top_p, top_k, max_tokens, candidates, top_n, strength, seed], follow


def _preset_values(name: str):
    p = SamplingParams.from_preset(name)
    return p.temperature, p.top_p, p.top_k


def next_box() -> NextBox:
    with gr.Row(equal_height=True):
        keywords = gr.Textbox(label="Keywords for the next sentence (empty: predicted)", scale=4,
                              elem_id="next-keywords")
        suggest = gr.Button("Suggest keywords", elem_id="suggest")
        write = gr.Button("Write", variant="primary", elem_id="write")
        cont = gr.Button("Continue", elem_id="continue")
    with gr.Row():
        undo = gr.Button("Undo", size="sm", elem_id="undo")
        redo = gr.Button("Redo", size="sm", elem_id="redo")
    return NextBox(keywords, suggest, write, cont, undo, redo)


def stories_tab() -> StoriesTab:
    with gr.Tab("Stories", id="stories") as tab:
        table = gr.Dataframe(headers=["id", "title", "sentences", "updated", "state"], datatype="str",
                             interactive=False, elem_id="story-list")
        with gr.Row():
            show_deleted = gr.Checkbox(False, label="Show deleted")
            refresh = gr.Button("Refresh", size="sm")
        with gr.Row():
            pick = gr.Number(label="Story id", precision=0, elem_id="story-pick")
            new_title = gr.Textbox(label="New title", elem_id="new-title")
        with gr.Row():
            buttons = {name: gr.Button(label, size="sm", elem_id=f"story-{name}") for name, label in (
                ("open", "Open"), ("rename", "Rename"), ("fork", "Fork"), ("delete", "Delete"), ("restore", "Restore"),
                ("json", "Export JSON"), ("markdown", "Export Markdown"), ("text", "Export plain text"),
                ("epub", "Export EPUB"), ("pairs", "Preference pairs (JSONL)"))}
        with gr.Row():
            download = gr.File(label="Export", interactive=False)
            upload = gr.File(label="Import a JSON story", file_types=[".json"], type="filepath")
            import_button = gr.Button("Import", size="sm", elem_id="story-import")
    return StoriesTab(tab, table, show_deleted, refresh, pick, new_title, buttons, download, upload, import_button)


def history_tab(handlers: Handlers, story_id: gr.Textbox, view: gr.State) -> HistoryTab:
    with gr.Tab("History", id="history") as tab:
        versions = gr.Dropdown(label="Every version of every sentence (oldest first)", choices=[],
                               allow_custom_value=True, elem_id="versions")
        with gr.Row():
            current = gr.Button("Make current", elem_id="make-current")
            fork = gr.Button("Fork into a new story", elem_id="fork-version")
        history_rating_box(handlers, story_id, versions, view)
    return HistoryTab(tab, versions, current, fork)


def wire_library(library: Library, page: EditorPage) -> None:
    """The Stories tab: list, open, rename, fork, delete, restore, export and import stories."""
    s, shown, url = page.stories, page.shown, page.url
    listed = dict(fn=library.list_stories, inputs=[s.show_deleted], outputs=[s.table])
    s.refresh.click(**listed, api_name="list_stories")  # first, so the public name is not taken
    s.tab.select(**listed, api_visibility="private")
    s.show_deleted.change(**listed, api_visibility="private")
    b = s.buttons
    b["open"].click(library.handlers.open_story, inputs=[s.pick], outputs=shown, api_name="open_story").then(**url)
    b["rename"].click(library.rename_story, inputs=[s.pick, s.new_title], outputs=shown,
                      api_name="rename_story").then(**listed, api_visibility="private")
    b["fork"].click(library.fork_story, inputs=[s.pick], outputs=shown, api_name="fork_story").then(
        **listed, api_visibility="private").then(**url)
    b["delete"].click(library.delete_story, inputs=[s.pick], outputs=shown,
                      api_name="delete_story").then(**listed, api_visibility="private").then(**url)
    b["restore"].click(library.restore_story, inputs=[s.pick], outputs=shown,
                       api_name="restore_story").then(**listed, api_visibility="private").then(**url)
    b["json"].click(library.export_json_file, inputs=[s.pick], outputs=[s.download], api_name="export_json_file")
    b["markdown"].click(library.export_markdown_file, inputs=[s.pick], outputs=[s.download],
                        api_name="export_markdown_file")
    b["text"].click(library.export_text_file, inputs=[s.pick], outputs=[s.download], api_name="export_text_file")
    b["epub"].click(library.export_epub_file, inputs=[s.pick], outputs=[s.download], api_name="export_epub_file")
    b["pairs"].click(library.export_pairs_file, outputs=[s.download], api_name="export_preference_pairs")
    s.import_button.click(library.import_story, inputs=[s.upload], outputs=shown,
                          api_name="import_story").then(**listed, api_visibility="private").then(**url)


def wire_history(library: Library, page: EditorPage) -> None:
    """The History tab: list every version when the tab opens; make one current, or fork from it."""
    h, shown = page.history, page.shown
    h.tab.select(library.show_history, inputs=[page.story_id], outputs=[h.versions], api_visibility="private")
    h.current.click(library.make_version_current, inputs=[page.story_id, h.versions], outputs=shown,
                    api_name="make_version_current")
    h.fork.click(library.fork_from_version, inputs=[page.story_id, h.versions], outputs=shown,
                 api_name="fork_from_version").then(**page.url)

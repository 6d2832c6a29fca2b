"""The reading view: the story as flowing prose above the rows, the sentence being written in place.

The server renders the premise and the saved sentences (escaped) whenever the story changes;
while a sentence streams, a small script copies the *Writing* row's text ("N. text...") into
the prose, in place of sentence N, or at the end for a new one. A click on a sentence scrolls
to its row and puts the cursor in its sentence box.
"""

from __future__ import annotations

from html import escape

import gradio as gr

from app.handlers import ShownStory

# Runs once when the view is mounted; `element` is the view itself.
OPEN_ROW_JS = """
element.addEventListener("click", (event) => {
  const span = event.target.closest("[data-index]");
  if (!span || !element.contains(span)) return;
  const box = document.querySelector(`#sentence-${span.dataset.index} textarea`);
  if (!box) return;
  box.scrollIntoView({block: "center"});
  box.focus({preventScroll: true});
});
"""
# Runs in the page on every change of the Writing row; textContent keeps the text inert.
STREAM_JS = """(text) => {
  const view = document.getElementById("reading-view");
  const m = /^(\\d+)\\. ([\\s\\S]*)$/.exec(text || "");
  if (!view || !m) return;  // "": the saved story follows and replaces the whole view
  const span = view.querySelector(`[data-index="${m[1]}"]`) || view.querySelector(".cntrl-live");
  if (!span) return;
  span.textContent = span.classList.contains("cntrl-live") ? " " + m[2] : m[2];
  span.classList.add("cntrl-streaming");
}"""
CSS = """
.cntrl-prose { margin: 0; padding: 10px 14px; line-height: 1.7; font-size: 1.05rem;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); }
.cntrl-prose [data-index] { cursor: pointer; border-radius: 3px; }
.cntrl-prose [data-index]:hover { background: var(--color-accent-soft); }
.cntrl-streaming { font-style: italic; opacity: 0.75; }
"""


def reading_html(current: ShownStory | None) -> str:
    """Premise and sentences as one escaped paragraph; each sentence a span with its index."""
    view = current.view if current is not None else None
    if view is None:
        return ""
    sentences = "".join(
        f" <span class='cntrl-sentence' data-index='{i}' title='Sentence {i}: click to edit it'>"
        f"{escape(node.text)}</span>"
        for i, node in enumerate(view.nodes, start=1)
    )
    return (f"<p class='cntrl-prose'><span class='cntrl-premise'>{escape(view.premise)}</span>"
            f"{sentences}<span class='cntrl-live'></span></p>")


def reading_view() -> gr.HTML:
    """Call where the view goes (above the rows); then `wire_reading_view`."""
    return gr.HTML("", elem_id="reading-view", js_on_load=OPEN_ROW_JS, css_template=CSS, padding=False)


def wire_reading_view(reading: gr.HTML, view: gr.State, live: gr.Textbox) -> None:
    """The view follows the story (`view`) and, in the page alone, the streaming `live` row."""
    view.change(reading_html, inputs=[view], outputs=[reading], api_visibility="private", show_progress="hidden")
    live.change(None, inputs=[live], js=STREAM_JS, api_visibility="private", show_progress="hidden")

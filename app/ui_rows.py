"""One row per sentence, rendered with keys so rows stay stable across updates."""

from dataclasses import dataclass

import gradio as gr

from app.handlers import Handlers, ShownStory
from app.ui_format import (
    alternative_choices,
    candidate_label,
    fact_choices,
    knowledge_html,
    provenance_html,
    shown_tokens,
    token_spans,
    version_label,
)
from app.ui_ratings import row_rating_tools, wire_row_ratings
from storage import NodeView


@dataclass
class RowWiring:
    """Components outside the rows that row events read or write."""

    handlers: Handlers
    story_id: gr.State
    view: gr.State
    live: gr.Textbox
    follow: gr.Checkbox
    panel: list[gr.components.Component]


def render_rows(current: ShownStory | None, wiring: RowWiring) -> None:
    """Call inside `gr.render`: the story's sentences, or a hint when there are none."""
    view = current.view if current is not None else None
    if view is None:
        gr.Markdown("Write a premise and press **New story** to begin.", elem_id="no-story")
        return
    if not view.nodes:
        gr.Markdown("No sentences yet: press **Suggest keywords**, **Write** or **Continue**.", elem_id="no-rows")
    for index, node in enumerate(view.nodes, start=1):
        sentence_row(index, node, wiring, view.ratings.get(node.id, []))


def sentence_row(index: int, node: NodeView, w: RowWiring, ratings=()) -> None:
    """The sentence, its keywords, regenerate, candidates, versions, ratings, knowledge and provenance."""
    with gr.Group(key=f"group-{node.id}", elem_classes=["cntrl-row"]):
        with gr.Row(key=f"main-{node.id}"):
            text = gr.Textbox(node.text, label=f"Sentence {index}", lines=1, max_lines=6, scale=5, interactive=True,
                              key=f"text-{node.id}", elem_id=f"sentence-{index}")
            keywords = gr.Textbox(", ".join(node.provenance.keywords), label="Keywords", scale=2, interactive=True,
                                  key=f"kw-{node.id}", elem_id=f"keywords-{index}")
        with gr.Row(key=f"tools-{node.id}", equal_height=True):
            regenerate = gr.Button("Regenerate", size="sm", variant="secondary", key=f"regen-{node.id}",
                                   elem_id=f"regenerate-{index}")
            save = gr.Button("Save edit", size="sm", key=f"save-{node.id}", elem_id=f"save-{index}")
            prev_c = gr.Button("◀", size="sm", min_width=40, key=f"pc-{node.id}", elem_id=f"prev-candidate-{index}")
            gr.Markdown(candidate_label(node), key=f"cl-{node.id}", elem_id=f"candidate-{index}")
            next_c = gr.Button("▶", size="sm", min_width=40, key=f"nc-{node.id}", elem_id=f"next-candidate-{index}")
            prev_v = gr.Button("◀", size="sm", min_width=40, key=f"pv-{node.id}", elem_id=f"prev-version-{index}")
            gr.Markdown(version_label(node), key=f"vl-{node.id}", elem_id=f"version-{index}")
            next_v = gr.Button("▶", size="sm", min_width=40, key=f"nv-{node.id}", elem_id=f"next-version-{index}")
        rating_tools = row_rating_tools(index, node.id, ratings)
        with gr.Accordion("Knowledge and provenance", open=False, key=f"acc-{node.id}"):
            gr.HTML(knowledge_html(node.provenance), key=f"facts-{node.id}", elem_id=f"facts-{index}")
            choices = fact_choices(node.provenance)
            pinned = gr.CheckboxGroup(choices, label="Pin for the next regeneration", key=f"pin-{node.id}", interactive=True,
                                      visible=bool(choices), elem_id=f"pin-{index}")
            vetoed = gr.CheckboxGroup(choices, label="Never use (veto)", key=f"veto-{node.id}", interactive=True,
                                      visible=bool(choices), elem_id=f"veto-{index}")
            gr.HTML(provenance_html(node), key=f"prov-{node.id}", elem_id=f"provenance-{index}")
        tokens = shown_tokens(node)
        with gr.Accordion("Token alternatives", open=False, key=f"tacc-{node.id}", visible=bool(tokens),
                          elem_id=f"token-view-{index}"):
            spans = gr.HighlightedText(token_spans(tokens), show_legend=False, combine_adjacent=False,
                                       label="Each token with its probability: click one to see what else the model "
                                             "could have written there", key=f"tok-{node.id}", elem_id=f"tokens-{index}")
            options = gr.Radio([], label="Write the rest of the sentence from", visible=False, key=f"alt-{node.id}",
                               elem_id=f"alternatives-{index}")
    wire_row(index, w, text, keywords, pinned, vetoed, [regenerate, save, prev_c, next_c, prev_v, next_v])
    wire_alternatives(index, w, tokens, spans, options)
    wire_row_ratings(index, w.handlers, w.story_id, rating_tools)


def wire_alternatives(index: int, w: RowWiring, tokens: list[dict], spans, options) -> None:
    """Clicking a token lists its alternatives; choosing one writes a new version from it."""
    def show_alternatives(selected: gr.SelectData):
        return gr.update(choices=alternative_choices(tokens, int(selected.index)), value=None, visible=True)

    def continue_from(request: gr.Request, story_id, choice, *panel):
        yield from w.handlers.continue_from_alternative(index, request, story_id, choice, *panel)

    private = {"api_visibility": "private"}
    spans.select(show_alternatives, outputs=[options], **private)
    options.input(continue_from, inputs=[w.story_id, options, *w.panel], outputs=[w.view, w.live],
                  trigger_mode="once", **private)


def wire_row(index: int, w: RowWiring, text, keywords, pinned, vetoed, buttons) -> None:
    """Row events; each names the sentence by its index in the story."""
    h = w.handlers
    regen_button, save_button, *switches = buttons

    def regenerate(request: gr.Request, story_id, keywords, pinned, vetoed, follow, *panel):
        yield from h.regenerate_sentence(index, request, story_id, keywords, pinned, vetoed, follow, *panel)

    def save_edit(story_id, text: str, request: gr.Request):
        return h.save_sentence_edit(index, story_id, text, request)

    def step_by(switch, step: int):
        def switched(story_id, request: gr.Request):
            return switch(index, step, story_id, request)
        return switched

    private = {"api_visibility": "private"}
    regen_button.click(regenerate, inputs=[w.story_id, keywords, pinned, vetoed, w.follow, *w.panel],
                       outputs=[w.view, w.live], trigger_mode="once", **private)
    save_button.click(save_edit, inputs=[w.story_id, text], outputs=[w.view], **private)
    for button, step in zip(switches[:2], (-1, 1), strict=True):
        button.click(step_by(h.switch_candidate, step), inputs=[w.story_id], outputs=[w.view], **private)
    for button, step in zip(switches[2:], (-1, 1), strict=True):
        button.click(step_by(h.switch_version, step), inputs=[w.story_id], outputs=[w.view], **private)

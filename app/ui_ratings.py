"""Thumbs up or down while writing: in each sentence row for the version shown, and in the History
tab for any version of any sentence. A writer's new rating of a version replaces their earlier one;
up- and down-rated versions of one sentence become preference pairs (Stories tab)."""

from __future__ import annotations

from html import escape

import gradio as gr

from app.errors import AppError
from app.handlers import Handlers, PanelActions, page_errors, shown
from app.library import history_choices
from app.store import parse_id
from app.ui_format import ratings_html

PRIVATE = {"api_visibility": "private"}


class Ratings(PanelActions):
    """The handlers: what the writer rated, delegated to StoryService."""

    @page_errors
    def rate_shown_sentence(self, index: int, rating: str, story_id, reason: str, request: gr.Request):
        """Rate the version of sentence `index` on the page; returns its ratings line and an empty reason box."""
        user, sid = self.handlers.story_ids(story_id, request)
        said = self.service.rate_sentence(user_id=user, story_id=sid, index=index, rating=rating,
                                          reason=reason or "")
        view = self.service.load(user_id=user, story_id=sid)
        gr.Info(escape(said))  # toasts render HTML; the reason is the writer's text
        node = view.nodes[index - 1] if index <= len(view.nodes) else None
        return ratings_html(view.ratings.get(node.id, []) if node else []), ""

    @page_errors
    def rate_chosen_version(self, rating: str, story_id, node_id, reason: str, request: gr.Request):
        """Rate the version picked in the history list; the list and the rows show the new rating."""
        user, sid = self.handlers.story_ids(story_id, request)
        node = parse_id(node_id)
        if node is None:
            raise AppError("pick a version in the list first")
        said = self.service.rate_version(user_id=user, story_id=sid, node_id=node, rating=rating,
                                         reason=reason or "")
        gr.Info(escape(said))
        choices, _ = history_choices(self.service, user_id=user, story_id=sid)
        return (gr.update(choices=choices, value=node), "",
                shown(self.service.load(user_id=user, story_id=sid)))


def row_rating_tools(index: int, node_id: int, ratings) -> tuple:
    """👍, 👎, a reason box and the ratings of the shown version (call inside a sentence row)."""
    with gr.Row(key=f"rate-{node_id}", equal_height=True):
        up = gr.Button("👍 Up", size="sm", min_width=60, scale=0, key=f"up-{node_id}", elem_id=f"rate-up-{index}")
        down = gr.Button("👎 Down", size="sm", min_width=60, scale=0, key=f"down-{node_id}",
                         elem_id=f"rate-down-{index}")
        reason = gr.Textbox(placeholder="Why? (optional, saved with the rating)", show_label=False, max_lines=1,
                            scale=2, container=False, key=f"reason-{node_id}", elem_id=f"rate-reason-{index}")
        # Not preserved by key: a rating given in the History tab must show when the rows are drawn again.
        line = gr.HTML(ratings_html(ratings), key=f"rated-{node_id}", preserved_by_key=None, padding=False,
                       elem_id=f"ratings-{index}")
    return up, down, reason, line


def wire_row_ratings(index: int, handlers: Handlers, story_id, tools: tuple) -> None:
    """The row's thumbs save a rating of the shown version with the typed reason."""
    up, down, reason, line = tools
    ratings = Ratings(handlers)

    def rate(rating: str):
        def rated(story_id, reason: str, request: gr.Request):
            return ratings.rate_shown_sentence(index, rating, story_id, reason, request)
        return rated

    for button, rating in ((up, "up"), (down, "down")):
        button.click(rate(rating), inputs=[story_id, reason], outputs=[line, reason], **PRIVATE)


def history_rating_box(handlers: Handlers, story_id, versions, view) -> None:
    """Under the history list: rate the picked version up or down, with a reason (call inside the History tab)."""
    with gr.Row(equal_height=True):
        reason = gr.Textbox(label="Reason for a rating (optional)", max_lines=1, scale=3, elem_id="history-reason")
        up = gr.Button("👍 Rate up", elem_id="history-rate-up")
        down = gr.Button("👎 Rate down", elem_id="history-rate-down")
    ratings = Ratings(handlers)

    def rate(rating: str):
        def rated(story_id, node_id, reason: str, request: gr.Request):
            return ratings.rate_chosen_version(rating, story_id, node_id, reason, request)
        return rated

    for button, rating in ((up, "up"), (down, "down")):
        button.click(rate(rating), inputs=[story_id, versions, reason], outputs=[versions, reason, view], **PRIVATE)

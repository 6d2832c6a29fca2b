"""Stateless endpoints that name the story explicitly, for scripts using gradio_client."""

from __future__ import annotations

import gradio as gr

from app.errors import AppError
from app.handlers import Handlers, page_errors
from app.store import parse_story_id
from app.writing import StepRequest


def register_api(handlers: Handlers) -> None:
    """Add /new_story, /suggest_keywords, /write_next, /regenerate, /undo, /export_story."""
    service, users = handlers.service, handlers.users

    @page_errors
    def new_story(premise: str, request: gr.Request) -> str:
        """Start a story from a premise; returns its id."""
        return str(service.new_story(user_id=users.id_of(request), premise=premise).id)

    @page_errors
    def suggest_keywords(story_id: str, request: gr.Request) -> str:
        """Predicted keywords for the next sentence, comma-separated."""
        ids = users.id_of(request), parse_story_id(story_id)
        return ", ".join(service.suggest_keywords(user_id=ids[0], story_id=ids[1]))

    @page_errors
    def write_next(story_id: str, keywords: str, request: gr.Request) -> str:
        """Write and save the next sentence (empty keywords: predicted); returns it."""
        view = _last(service.stream_write(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                          request=StepRequest(keywords=keywords or "")))
        return view.nodes[-1].text

    @page_errors
    def regenerate(story_id: str, index: int, keywords: str, request: gr.Request) -> str:
        """Write sentence `index` (1 = first after the premise) again with these keywords; returns it."""
        view = _last(service.stream_regenerate(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                               index=_index(index), request=StepRequest(keywords=keywords or "")))
        return view.nodes[_index(index) - 1].text

    @page_errors
    def undo(story_id: str, request: gr.Request) -> str:
        """Take back the last change; returns the story text (premise and sentences)."""
        view = service.undo(user_id=users.id_of(request), story_id=parse_story_id(story_id))
        return " ".join([view.premise.strip(), view.text]).strip()

    @page_errors
    def export_story(story_id: str, request: gr.Request) -> str:
        """The whole revision tree with provenance, as a JSON document."""
        return service.export_json(user_id=users.id_of(request), story_id=parse_story_id(story_id))

    for fn in (new_story, suggest_keywords, write_next, regenerate, undo, export_story):
        gr.api(fn, api_name=fn.__name__)


def _last(stream):
    """The final item of a write stream: the saved story."""
    *_, final = stream
    return final


def _index(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AppError(f"index must be a whole number, got {value!r}") from None

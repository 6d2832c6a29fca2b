"""Stateless endpoints that name the story explicitly, for scripts using gradio_client."""

from __future__ import annotations

import json

import gradio as gr

from app.errors import AppError
from app.handlers import Handlers, page_errors
from app.store import parse_story_id
from app.writing import StepRequest


def register_api(handlers: Handlers) -> None:
    """Add /new_story, /suggest_keywords, /write_next, /regenerate, /undo, /export_story,
    /token_alternatives, /continue_from_token, /set_memory, /add_bible_entry, /rate_sentence and the
    storyline's /plan_story, /replan_story, /set_storyline and /write_to_plan."""
    for fn in (*writing_api(handlers), *token_api(handlers), *notes_api(handlers), *storyline_api(handlers)):
        gr.api(fn, api_name=fn.__name__)


def writing_api(handlers: Handlers) -> tuple:
    """/new_story, /suggest_keywords, /write_next, /regenerate and /undo."""
    service, users = handlers.service, handlers.users

    @page_errors
    def new_story(premise: str, request: gr.Request) -> str:
        """Start a story from a premise; returns its id."""
        return str(service.new_story(user_id=users.id_of(request), premise=_text(premise, "premise")).id)

    @page_errors
    def suggest_keywords(story_id: str, request: gr.Request) -> str:
        """Predicted keywords for the next sentence, comma-separated."""
        ids = users.id_of(request), parse_story_id(story_id)
        return ", ".join(service.suggest_keywords(user_id=ids[0], story_id=ids[1]))

    @page_errors
    def write_next(story_id: str, keywords: str, request: gr.Request) -> str:
        """Write and save the next sentence (empty keywords: predicted); returns it."""
        view = _last(service.stream_write(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                          request=StepRequest(keywords=_text(keywords, "keywords"))))
        return view.nodes[-1].text

    @page_errors
    def regenerate(story_id: str, index: int, keywords: str, request: gr.Request) -> str:
        """Write sentence `index` (1 = first after the premise) again with these keywords; returns it."""
        view = _last(service.stream_regenerate(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                               index=_index(index), request=StepRequest(keywords=_text(keywords, "keywords"))))
        return view.nodes[_index(index) - 1].text

    @page_errors
    def undo(story_id: str, request: gr.Request) -> str:
        """Take back the last change; returns the story text (premise and sentences)."""
        return _story_text(service.undo(user_id=users.id_of(request), story_id=parse_story_id(story_id)))

    return new_story, suggest_keywords, write_next, regenerate, undo


def token_api(handlers: Handlers) -> tuple:
    """/export_story, /token_alternatives and /continue_from_token: a story's sentences as the
    model wrote them, token by token, and a new version from one of a token's alternatives."""
    service, users = handlers.service, handlers.users

    @page_errors
    def export_story(story_id: str, request: gr.Request) -> str:
        """The whole revision tree with provenance, as a JSON document."""
        return service.export_json(user_id=users.id_of(request), story_id=parse_story_id(story_id))

    @page_errors
    def token_alternatives(story_id: str, index: int, request: gr.Request) -> str:
        """Sentence `index` token by token, each with its probability and the runners-up, as JSON."""
        tokens = service.token_alternatives(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                            index=_index(index))
        return json.dumps(tokens, ensure_ascii=False)

    @page_errors
    def continue_from_token(story_id: str, index: int, position: int, token: str, request: gr.Request) -> str:
        """Write sentence `index` again from its first `position` tokens plus `token` (one of the
        alternatives listed at that position, by text or id) as a new version; returns it."""
        sentence = _index(index)
        view = _last(service.stream_continue_from_token(
            user_id=users.id_of(request), story_id=parse_story_id(story_id), index=sentence,
            position=_index(position, "position", minimum=0), token=_text(token, "token"), request=StepRequest()))
        return view.nodes[sentence - 1].text

    return export_story, token_alternatives, continue_from_token


def notes_api(handlers: Handlers) -> tuple:
    """/set_memory, /add_bible_entry and /rate_sentence: what the writer keeps beside the story."""
    service, users = handlers.service, handlers.users

    @page_errors
    def set_memory(story_id: str, memory: str, authors_note: str, request: gr.Request) -> str:
        """Save the story's memory (placed before the story in every prompt) and author's note
        (placed near the end; its depth stays as the editor set it); returns a confirmation."""
        view = service.set_memory(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                  memory=_text(memory, "memory"), authors_note=_text(authors_note, "author's note"))
        return memory_saved(view)

    @page_errors
    def add_bible_entry(story_id: str, name: str, keys: str, text: str, request: gr.Request) -> str:
        """Add an entry to the story's bible: a name, comma-separated trigger keys and a text; returns its id."""
        entry = service.add_bible_entry(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                        name=_text(name, "name"), keys=_text(keys, "keys"), text=_text(text, "text"))
        return str(entry.id)

    @page_errors
    def rate_sentence(story_id: str, index: int, rating: str, reason: str, request: gr.Request) -> str:
        """Rate the shown version of sentence `index` (1 = first after the premise) "up" or "down",
        with an optional short reason; returns a confirmation."""
        return service.rate_sentence(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                     index=_index(index), rating=_text(rating, "rating"),
                                     reason=_text(reason, "reason"))

    return set_memory, add_bible_entry, rate_sentence


def storyline_api(handlers: Handlers) -> tuple:
    """/plan_story, /replan_story, /set_storyline and /write_to_plan; a storyline comes back as JSON:
    {"slots": [[keyword, ...], ...], "text": "a, b | c | ...", "source": ..., "notes": [...]}."""
    service, users = handlers.service, handlers.users

    @page_errors
    def plan_story(story_id: str, sentences: int, request: gr.Request) -> str:
        """Plan the keywords of the next `sentences` sentences (slot i: sentence i); returns the storyline."""
        return _storyline_json(service.plan_story(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                                  sentences=_index(sentences, "sentences")))

    @page_errors
    def replan_story(story_id: str, from_slot: int, request: gr.Request) -> str:
        """Plan the storyline again from slot `from_slot`, keeping the slots before it; returns the storyline."""
        return _storyline_json(service.plan_story(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                                  from_slot=_index(from_slot, "from_slot")))

    @page_errors
    def set_storyline(story_id: str, storyline: str, request: gr.Request) -> str:
        """Save the writer's storyline, "a, b | c | | d" (an empty slot is predicted at write time)."""
        return _storyline_json(service.set_storyline(user_id=users.id_of(request), story_id=parse_story_id(story_id),
                                                     slots=_text(storyline, "storyline")))

    @page_errors
    def write_to_plan(story_id: str, request: gr.Request) -> str:
        """Write every planned sentence not written as planned; returns the story text (premise and sentences)."""
        return _story_text(_last(service.stream_write_to_plan(user_id=users.id_of(request),
                                                              story_id=parse_story_id(story_id))))

    return plan_story, replan_story, set_storyline, write_to_plan


def _storyline_json(storyline) -> str:
    """A storyline as the storyline endpoints return it."""
    return json.dumps(storyline.to_dict(), ensure_ascii=False)


def memory_saved(view) -> str:
    """One line saying what was saved, for the API and the editor."""
    return (f"Saved for story {view.id}: memory {len(view.memory):,} characters, author's note "
            f"{len(view.authors_note):,} characters, {view.note_depth} sentence(s) from the end. "
            "Text that does not fit the prompt is clipped; each sentence's notes say so.")


def _story_text(view) -> str:
    """The premise and the sentences, as one text."""
    return " ".join([view.premise.strip(), view.text]).strip()


def _last(stream):
    """The final item of a write stream: the saved story."""
    *_, final = stream
    return final


def _text(value, field: str) -> str:
    """A text argument as JSON brings it: a string, or null for an empty one; nothing else."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AppError(f"{field} must be text, got {type(value).__name__}")
    return value


def _index(value, field: str = "index", minimum: int = 1) -> int:
    """A whole number as a script sends it (2, 2.0 or "2"); never 2.5 or True read as 1."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise AppError(f"{field} must be a whole number, got {str(value)[:40]!r}") from None
    if number < minimum:
        raise AppError(f"{field} must be {minimum} or more, got {number}")
    return number

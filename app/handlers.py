"""What happens when the writer does something: short handlers that delegate to StoryService.

Each handler takes the page's values plus the `gr.Request` (which names the user), and
returns or streams the new values. Service refusals become a readable `gr.Error`.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from dataclasses import dataclass, field

import gradio as gr

from app.errors import AppError
from app.service import StoryService
from app.store import parse_story_id
from app.ui_format import params_from_panel
from app.writing import StepRequest, StreamedText
from storage import StoryView

LOCAL_USER = "local"


class ShownStory:
    """The story as the page shows it, for `gr.State`: hashable, and new on every update."""

    def __init__(self, view: StoryView) -> None:
        self.view = view
        self.stamp = time.monotonic_ns()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShownStory) and (self.view.id, self.stamp) == (other.view.id, other.stamp)

    def __hash__(self) -> int:
        return hash((self.view.id, self.stamp))

    def __deepcopy__(self, memo) -> ShownStory:
        return self  # the view is immutable; copies would only cost time


def shown(view: StoryView | None) -> ShownStory | None:
    return None if view is None else ShownStory(view)


def page_errors(fn):
    """Turn `AppError` into a `gr.Error` toast (no traceback reaches the page)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except AppError as error:
                raise gr.Error(str(error), print_exception=False) from None
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AppError as error:
            raise gr.Error(str(error), print_exception=False) from None
    return call


@dataclass
class Users:
    """Maps the logged-in name (or the single local user) to a storage user id."""

    service: StoryService
    _ids: dict[str, int] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def id_of(self, request: gr.Request | None) -> int:
        name = (getattr(request, "username", None) or LOCAL_USER) if request is not None else LOCAL_USER
        with self._guard:
            if name not in self._ids:
                self._ids[name] = self.service.store.user_id(name)
            return self._ids[name]


@dataclass
class Handlers:
    service: StoryService
    users: Users

    @classmethod
    def of(cls, service: StoryService) -> Handlers:
        return cls(service, Users(service))

    def story_ids(self, story_id, request) -> tuple[int, int]:
        """(user id, story id) of a request that names a story."""
        if no_story(story_id):
            raise AppError("start a story first: write a premise and press New story")
        return self.users.id_of(request), parse_story_id(story_id)

    @page_errors
    def open_on_load(self, request: gr.Request):
        """Reopen the story named in the URL, else the writer's latest one."""
        user = self.users.id_of(request)
        wanted = request.query_params.get("story") if request is not None else None
        view = None
        if wanted:
            try:
                view = self.service.load(user_id=user, story_id=parse_story_id(wanted))
            except AppError:
                gr.Warning("That story is not available to this account; showing your latest story.")
        view = view or self.service.latest(user_id=user)
        return editor_values(view) if view is not None else ("", None, gr.skip(), gr.skip())

    @page_errors
    def start_story(self, premise: str, title: str, request: gr.Request):
        view = self.service.new_story(user_id=self.users.id_of(request), premise=premise, title=title)
        return editor_values(view)

    @page_errors
    def open_story(self, story_id, request: gr.Request):
        user, sid = self.story_ids(story_id, request)
        return editor_values(self.service.load(user_id=user, story_id=sid))

    @page_errors
    def suggest_next_keywords(self, story_id, seed, request: gr.Request) -> str:
        user, sid = self.story_ids(story_id, request)
        seed = None if seed is None or int(seed) < 0 else int(seed)
        return ", ".join(self.service.suggest_keywords(user_id=user, story_id=sid, seed=seed))

    @page_errors
    def write_sentence(self, request: gr.Request, story_id, keywords: str, *panel):
        """Stream the next sentence into the live row, then show it as a saved row."""
        user, sid = self.story_ids(story_id, request)
        request_ = StepRequest(keywords=keywords, params=params_from_panel(*panel))
        yield from streamed(self.service.stream_write(user_id=user, story_id=sid, request=request_))

    @page_errors
    def continue_story(self, request: gr.Request, story_id, *panel):
        """Suggest keywords and write with them, in one click."""
        user, sid = self.story_ids(story_id, request)
        params = params_from_panel(*panel)
        keywords = self.service.suggest_keywords(user_id=user, story_id=sid, seed=params.seed)
        stream = self.service.stream_write(user_id=user, story_id=sid,
                                           request=StepRequest(keywords=keywords, params=params))
        yield from streamed(stream)

    @page_errors
    def regenerate_sentence(self, index: int, request: gr.Request, story_id, keywords, pinned, vetoed, follow,
                            *panel):
        user, sid = self.story_ids(story_id, request)
        step = StepRequest(keywords=keywords, params=params_from_panel(*panel),
                           pinned=tuple(pinned or ()), vetoed=tuple(vetoed or ()))
        yield from streamed(self.service.stream_regenerate(
            user_id=user, story_id=sid, index=index, request=step, keep_following=bool(follow)))

    @page_errors
    def continue_from_alternative(self, index: int, request: gr.Request, story_id, choice, *panel):
        """Write sentence `index` again from a token alternative ("position:token id") as a new version."""
        user, sid = self.story_ids(story_id, request)
        position, _, token = str(choice or "").partition(":")
        if not position.isdigit() or not token.isdigit():
            raise AppError("choose one of the alternatives listed under the tokens")
        yield from streamed(self.service.stream_continue_from_token(
            user_id=user, story_id=sid, index=index, position=int(position), token=int(token),
            request=StepRequest(params=params_from_panel(*panel))))

    @page_errors
    def save_sentence_edit(self, index: int, story_id, text: str, request: gr.Request):
        user, sid = self.story_ids(story_id, request)
        return shown(self.service.edit_sentence(user_id=user, story_id=sid, index=index, text=text))

    @page_errors
    def switch_candidate(self, index: int, step: int, story_id, request: gr.Request):
        user, sid = self.story_ids(story_id, request)
        node = self.service.load(user_id=user, story_id=sid).nodes[index - 1]
        count = max(len(node.provenance.candidates), 1)
        chosen = ((node.provenance.chosen or 0) + step) % count
        return shown(self.service.choose_candidate(user_id=user, story_id=sid, index=index, candidate=chosen))

    @page_errors
    def switch_version(self, index: int, step: int, story_id, request: gr.Request):
        user, sid = self.story_ids(story_id, request)
        node = self.service.load(user_id=user, story_id=sid).nodes[index - 1]
        target = node.sibling_ids[(node.sibling_ids.index(node.id) + step) % len(node.sibling_ids)]
        return shown(self.service.make_current(user_id=user, story_id=sid, node_id=target))

    @page_errors
    def undo_change(self, story_id, request: gr.Request) -> ShownStory:
        user, sid = self.story_ids(story_id, request)
        return shown(self.service.undo(user_id=user, story_id=sid))

    @page_errors
    def redo_change(self, story_id, request: gr.Request) -> ShownStory:
        user, sid = self.story_ids(story_id, request)
        return shown(self.service.redo(user_id=user, story_id=sid))


class PanelActions:
    """The base of a panel's handlers: what the writer did there, delegated to StoryService."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers
        self.service = handlers.service


def no_story(story_id) -> bool:
    """Whether the page shows no story (its story id is empty)."""
    return story_id is None or str(story_id).strip() == ""


def editor_values(view: StoryView | None):
    """(story id, view, premise, title) for the editor."""
    if view is None:
        return "", None, "", ""
    return str(view.id), ShownStory(view), view.premise, view.title


def streamed(stream):
    """(view, live text) updates: the live row grows with each streamed text; the saved story ends it."""
    live, index = "", 0
    for item in stream:
        if isinstance(item, StreamedText):
            if item.index != index:
                live, index = "", item.index
            live += item.text
            yield gr.skip(), f"{index}. {live.strip()}"
        else:
            yield ShownStory(item), ""

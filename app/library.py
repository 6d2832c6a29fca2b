"""The story list and the history view: open, rename, fork, delete, restore, export, import."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.processing_utils import save_file_to_cache
from gradio.utils import get_upload_folder

from app.errors import AppError
from app.handlers import Handlers, editor_values, no_story, page_errors
from app.store import required_id
from app.ui_format import ratings_text, story_rows

MAX_IMPORT_BYTES = 50_000_000


@dataclass
class Library:
    handlers: Handlers

    @property
    def service(self):
        return self.handlers.service

    def _ids(self, story_id, request):
        return self.handlers.story_ids(story_id, request)

    @page_errors
    def list_stories(self, show_deleted: bool, request: gr.Request):
        user = self.handlers.users.id_of(request)
        return story_rows(self.service.list(user_id=user, include_deleted=bool(show_deleted)))

    @page_errors
    def rename_story(self, story_id, title: str, request: gr.Request):
        user, sid = self._ids(story_id, request)
        return editor_values(self.service.rename(user_id=user, story_id=sid, title=title))

    @page_errors
    def fork_story(self, story_id, request: gr.Request):
        user, sid = self._ids(story_id, request)
        return editor_values(self.service.fork(user_id=user, story_id=sid))

    @page_errors
    def delete_story(self, story_id, request: gr.Request):
        user, sid = self._ids(story_id, request)
        self.service.delete(user_id=user, story_id=sid)
        gr.Info(f"Story {sid} deleted; tick 'show deleted' to restore it.")
        return editor_values(self.service.latest(user_id=user))

    @page_errors
    def restore_story(self, story_id, request: gr.Request):
        user, sid = self._ids(story_id, request)
        self.service.restore(user_id=user, story_id=sid)
        return editor_values(self.service.load(user_id=user, story_id=sid))

    @page_errors
    def export_json_file(self, story_id, request: gr.Request) -> str:
        return self._export(story_id, request, "json", self.service.export_json)

    @page_errors
    def export_markdown_file(self, story_id, request: gr.Request) -> str:
        return self._export(story_id, request, "md", self.service.export_markdown)

    @page_errors
    def export_text_file(self, story_id, request: gr.Request) -> str:
        return self._export(story_id, request, "txt", self.service.export_text)

    @page_errors
    def export_epub_file(self, story_id, request: gr.Request) -> str:
        return self._export(story_id, request, "epub", self.service.export_epub)

    def _export(self, story_id, request: gr.Request, suffix: str, export) -> str:
        """A download of the story as `export(user_id=, story_id=)` writes it."""
        user, sid = self._ids(story_id, request)
        return _file(f"story-{sid}.{suffix}", export(user_id=user, story_id=sid))

    @page_errors
    def export_pairs_file(self, request: gr.Request) -> str:
        """The writer's own preference pairs (a version rated up beside a sibling rated down) as JSON Lines."""
        from storage.publish import pairs_jsonl

        pairs = self.service.preference_pairs(user_id=self.handlers.users.id_of(request))
        if not pairs:
            raise AppError("no preference pairs yet: a pair is two versions of one sentence, one rated 👍 up "
                           "and the other 👎 down")
        return _file("preference-pairs.jsonl", pairs_jsonl(pairs))

    @page_errors
    def import_story(self, path: str | None, request: gr.Request):
        if not path:
            raise AppError("choose a JSON file exported from CNTRL Studio first")
        file = Path(path).resolve()
        uploaded = file.is_relative_to(Path(get_upload_folder()).resolve()) and file.is_file()
        if not uploaded:  # a path the client named, not a file it uploaded
            raise AppError("choose a JSON file exported from CNTRL Studio first")
        if file.stat().st_size > MAX_IMPORT_BYTES:
            raise AppError("that file is larger than 50 MB")
        text = file.read_text(encoding="utf-8", errors="replace")
        return editor_values(self.service.import_json(user_id=self.handlers.users.id_of(request), text=text))

    @page_errors
    def show_history(self, story_id, request: gr.Request):
        if no_story(story_id):
            return gr.update(choices=[], value=None)
        user, sid = self._ids(story_id, request)
        choices, head = history_choices(self.service, user_id=user, story_id=sid)
        return gr.update(choices=choices, value=head)

    @page_errors
    def make_version_current(self, story_id, node_id, request: gr.Request):
        user, sid = self._ids(story_id, request)
        if node_id is None:
            raise AppError("pick a version in the list first")
        return editor_values(self.service.make_current(user_id=user, story_id=sid, node_id=_node_id(node_id)))

    @page_errors
    def fork_from_version(self, story_id, node_id, request: gr.Request):
        user, sid = self._ids(story_id, request)
        if node_id is None:
            raise AppError("pick a version in the list first")
        return editor_values(self.service.fork(user_id=user, story_id=sid, node_id=_node_id(node_id)))


def _node_id(value) -> int:
    """A version id from the history list; anything else is refused in one line."""
    return required_id(value, AppError(f"there is no version {str(value)[:40]!r} in this story"))


def history_choices(service, *, user_id: int, story_id: int) -> tuple[list[tuple[str, int]], int | None]:
    """The history list: (label, version id) of every version, oldest first, with its ratings; and the head's id."""
    entries = service.history(user_id=user_id, story_id=story_id)
    ratings = service.load(user_id=user_id, story_id=story_id).ratings
    choices = [(_history_label(e, ratings.get(e.node_id, ())), e.node_id) for e in entries]
    return choices, next((e.node_id for e in entries if e.is_head), None)


def _history_label(entry, ratings=()) -> str:
    marker = " (current end)" if entry.is_head else (" (in story)" if entry.on_path else "")
    text = entry.text if len(entry.text) <= 70 else entry.text[:69] + "…"
    rated = ratings_text(ratings)
    rated = "" if not rated else " · " + (rated if len(rated) <= 100 else rated[:99] + "…")
    return f"#{entry.node_id} · sentence {entry.position + 1} · {entry.source}{marker}: {text}{rated}"


def _file(name: str, content: str | bytes) -> str:
    """The download as a file in Gradio's cache, where Gradio serves it from (and removes it at shutdown).

    It is written through a temporary folder that is removed before the handler returns, so an export
    leaves one copy, Gradio's, instead of a `cntrl-export-*` folder per click. Gradio keeps a file already
    in its cache where it is rather than copying it again.
    """
    with tempfile.TemporaryDirectory(prefix="cntrl-export-") as folder:
        path = Path(folder) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return save_file_to_cache(path, get_upload_folder())

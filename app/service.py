"""StoryService: every story operation of the app, scoped to one user, saved as it happens.

A thin facade over the two parts, so the UI, the API and the tests keep one name:
`StoryLibrary` (app/service_library.py: stories, exports, the bible, ratings, history) and
`StoryWriting` (app/service_writing.py: write, regenerate, edit, choose, undo, redo) and
`StoryPlanning` (app/service_storyline.py: plan the storyline, edit it, write to it), which
share the library's store and per-story locks.
"""

from __future__ import annotations

from typing import Any

from app.admission import WritingQueue
from app.engine_handle import EngineHandle
from app.service_library import HistoryEntry, StoryLibrary
from app.service_storyline import StoryPlanning
from app.service_writing import StoryWriting
from app.store import Store

__all__ = ["HistoryEntry", "StoryLibrary", "StoryPlanning", "StoryService", "StoryWriting"]


class StoryService:
    """Story operations for the UI and the API; every method names the acting user."""

    def __init__(self, *, engine: EngineHandle, store: Store, queue: WritingQueue | None = None) -> None:
        self.library = StoryLibrary(store=store)
        self.writing = StoryWriting(library=self.library, engine=engine, queue=queue)
        self.planning = StoryPlanning(writing=self.writing)

    def __getattr__(self, name: str) -> Any:
        """A library operation (or `store`, `locks`), else a writing one (or `engine`, `queue`), else a
        storyline one."""
        if name in ("library", "writing", "planning"):  # not set yet: never look them up in themselves
            raise AttributeError(name)
        for part in (self.library, self.writing):
            try:
                return getattr(part, name)
            except AttributeError:
                pass
        return getattr(self.planning, name)

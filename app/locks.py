"""Per-story locks: one writer at a time per story inside this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app.errors import StoryBusy


class StoryLocks:
    """A lock per story id; a second writer is refused at once instead of queuing.

    Refusing (rather than waiting) is what makes a double click on Write produce one
    sentence: the second click finds the story busy and adds nothing.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}

    def _lock_for(self, story_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(story_id, threading.Lock())

    @contextmanager
    def hold(self, story_id: int) -> Iterator[None]:
        """Hold the story's lock, or raise `StoryBusy` if another request holds it."""
        lock = self._lock_for(story_id)
        if not lock.acquire(blocking=False):
            raise StoryBusy("this story is already being written; wait for that sentence to finish")
        try:
            yield
        finally:
            lock.release()

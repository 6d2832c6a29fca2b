"""Which head a story had before each replacing change, so undo can return to it.

Storage's own undo moves the head back one sentence; after a regenerate or an edit
the writer expects the old version back instead. This log remembers (before, after)
head pairs per story for the life of the process; when it has nothing that matches the
current head (after a restart, or a change made elsewhere), storage's undo applies.
"""

from __future__ import annotations

import threading
from collections import defaultdict


class UndoLog:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._done: dict[int, list[tuple[int | None, int | None]]] = defaultdict(list)
        self._undone: dict[int, list[tuple[int | None, int | None]]] = defaultdict(list)

    def record(self, story_id: int, before: int | None, after: int | None) -> None:
        with self._guard:
            self._done[story_id].append((before, after))
            self._undone[story_id].clear()

    def forget_redo(self, story_id: int) -> None:
        with self._guard:
            self._undone[story_id].clear()

    def undo(self, story_id: int, head: int | None) -> int | None:
        """The head to return to, if the last recorded change left the story at `head`."""
        with self._guard:
            done = self._done[story_id]
            if done and done[-1][1] == head and done[-1][0] is not None:
                pair = done.pop()
                self._undone[story_id].append(pair)
                return pair[0]
            return None

    def redo(self, story_id: int, head: int | None) -> int | None:
        """The head to go forward to, if the last undo through this log left the story at `head`."""
        with self._guard:
            undone = self._undone[story_id]
            if undone and undone[-1][0] == head:
                pair = undone.pop()
                self._done[story_id].append(pair)
                return pair[1]
            return None

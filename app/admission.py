"""Admission to the engine: a bounded first-come queue in front of sentence generation.

The in-process engine writes one sentence at a time. Without a queue, every writer past the
first would wait on its lock for as long as the others take, with no word of why, until the
browser or a proxy gives up. Here `concurrency` sentences run at once (1 for an in-process
model; more for a vLLM server, which batches them), at most `capacity` more wait in arrival
order, and a writer beyond that gets an immediate "busy" answer with the position they would
have had. A waiter that is not admitted within `max_wait_s` is refused the same way, so no
request hangs. When the server is told to stop, `stop()` refuses every waiter at once, and
the sentences being written end at their next token (`check()`), unsaved, so the process can
exit within seconds.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.errors import AppError


STOPPING = ("the server is stopping: this sentence was not written and nothing of it was saved; everything "
            "saved before is kept, try again when the server is back")


class Busy(AppError):
    """The writing queue is full, or a waiter's turn did not come in time."""


class Stopping(AppError):
    """The server is stopping: no new sentence starts and the ones being written end unsaved."""


@dataclass(frozen=True)
class QueueStats:
    running: int
    waiting: int
    capacity: int
    concurrency: int


class WritingQueue:
    """`with queue.ticket(): ...` runs the body when it is this request's turn, or raises Busy."""

    def __init__(self, *, concurrency: int = 1, capacity: int = 16, max_wait_s: float = 300.0) -> None:
        if concurrency < 1 or capacity < 0 or max_wait_s <= 0:
            raise ValueError("the writing queue needs concurrency >= 1, capacity >= 0 and a positive wait")
        self.concurrency = concurrency
        self.capacity = capacity
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: list[int] = []  # ticket numbers in arrival order
        self._numbers = itertools.count()
        self.admitted = 0
        self.waits_s: deque[float] = deque(maxlen=1000)  # the latest admitted requests' waits (for /healthz)
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Refuse every waiter and every new request; running sentences end at their next `check()`."""
        with self._cond:
            self._stopping.set()
            self._cond.notify_all()

    def check(self) -> None:
        """Raise `Stopping` once the server is stopping (the writing loop calls it between tokens)."""
        if self._stopping.is_set():
            raise Stopping(STOPPING)

    def stats(self) -> QueueStats:
        with self._cond:
            return QueueStats(self._running, len(self._waiting), self.capacity, self.concurrency)

    @contextmanager
    def ticket(self) -> Iterator[None]:
        number = next(self._numbers)
        start = time.monotonic()
        with self._cond:
            self.check()
            if self._running >= self.concurrency and len(self._waiting) >= self.capacity:
                raise Busy(f"busy: {self._running} sentence(s) being written and {len(self._waiting)} waiting, "
                           f"you would be position {len(self._waiting) + 1}; nothing was lost, try again in a moment")
            self._waiting.append(number)
            try:
                while not (self._waiting[0] == number and self._running < self.concurrency):
                    self.check()
                    left = self.max_wait_s - (time.monotonic() - start)
                    if left <= 0:
                        position = self._waiting.index(number) + 1
                        raise Busy(f"busy: still position {position} after {self.max_wait_s:.0f} s in the queue; "
                                   "nothing was lost, try again in a moment")
                    self._cond.wait(left)
            finally:
                self._waiting.remove(number)
                self._cond.notify_all()
            self._running += 1
            self.admitted += 1
            self.waits_s.append(time.monotonic() - start)
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

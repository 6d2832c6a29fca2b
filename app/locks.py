"""Per-story writing locks: one writer at a time per story, across every app process.

A thread lock refuses a second writer in this process without touching the database;
a writing lease in the database (`storage.leases`) refuses one in any other process on
the same database. The lease's holder is this process, so a lease it could not give back
(the database dropped while a sentence was written) is simply taken again by its next
writer. While the writer works a background thread renews the lease; if the process
dies, the lease runs out after `ttl_s` and the story can be written again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import storage
from app.errors import StoryBusy

BUSY = "this story is already being written; wait for that sentence to finish"


class StoryLocks:
    """A lock per story id; a second writer is refused at once instead of queuing.

    Refusing (rather than waiting) is what makes a double click on Write produce one
    sentence: the second click finds the story busy and adds nothing.
    """

    def __init__(self, store=None, *, ttl_s: float = 20.0) -> None:
        self.store = store  # None: this process only (tests of the lock itself)
        self.ttl_s = ttl_s
        self.holder = uuid.uuid4().hex  # this process, as lease holder
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}

    def _lock_for(self, story_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(story_id, threading.Lock())

    @contextmanager
    def hold(self, story_id: int, user_id: int | None = None) -> Iterator[None]:
        """Hold the story's lock, or raise `StoryBusy` if another request holds it.

        With a store and `user_id`, a story the user does not own is refused first (as
        missing), so nobody can keep another writer's story busy.
        """
        if self.store is not None and user_id is not None:
            self.store.run(lambda s: storage.get_story(s, user_id=user_id, story_id=story_id))
        lock = self._lock_for(story_id)
        if not lock.acquire(blocking=False):
            raise StoryBusy(BUSY)
        try:
            if self.store is None:
                yield
            else:
                with self._lease(story_id):
                    yield
        finally:
            lock.release()

    @contextmanager
    def _lease(self, story_id: int) -> Iterator[None]:
        run, holder, ttl = self.store.run, self.holder, self.ttl_s
        if not run(lambda s: storage.acquire_lease(s, story_id=story_id, holder=holder, ttl_s=ttl)):
            raise StoryBusy(BUSY)
        done = threading.Event()

        def renew() -> None:
            while not done.wait(ttl / 3):
                try:
                    run(lambda s: storage.renew_lease(s, story_id=story_id, holder=holder, ttl_s=ttl))
                except Exception:  # a database hiccup: the next renewal tries again
                    continue

        renewer = threading.Thread(target=renew, name=f"lease-{story_id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join(timeout=5)
            try:
                run(lambda s: storage.release_lease(s, story_id=story_id, holder=holder))
            except Exception:  # the database is gone: this process takes the lease again next time
                pass

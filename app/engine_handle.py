"""The engine as the app holds it: ready at once, or loading in a background thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.errors import AppError

log = logging.getLogger(__name__)


class EngineHandle:
    """Gives the engine once it is ready; before that, `get()` says it is still loading."""

    def __init__(self, engine: Any | None = None, *, description: str = "") -> None:
        self._engine = engine
        self._error: str | None = None
        self._started = time.monotonic()
        self._ready_after_s: float | None = 0.0 if engine is not None else None
        self._settled = threading.Event()  # set once loading has finished, well or badly
        if engine is not None:
            self._settled.set()
        self.description = description or getattr(engine, "model_id", "")
        self.wait_s = 0.0  # how long a call made while loading waits for the model before refusing

    @classmethod
    def of(cls, engine: Any) -> EngineHandle:
        """Wrap an engine (a Pipeline or FakeEngine), or pass a handle through."""
        return engine if isinstance(engine, EngineHandle) else cls(engine)

    @classmethod
    def load_in_background(cls, load: Callable[[], Any], *, description: str) -> EngineHandle:
        """Start `load()` in a daemon thread; the page polls `status()`."""
        handle = cls(description=description)
        threading.Thread(target=handle._load, args=(load,), name="engine-loader", daemon=True).start()
        return handle

    def _load(self, load: Callable[[], Any]) -> None:
        try:
            engine = load()
        except Exception as error:  # reported on the page; the server keeps serving stories
            log.exception("model loading failed")
            self._error = f"{type(error).__name__}: {error}"
            self._settled.set()
            return
        self._ready_after_s = time.monotonic() - self._started
        self._engine = engine
        self._settled.set()
        log.info("model ready after %.1f s", self._ready_after_s)

    @property
    def ready(self) -> bool:
        return self._engine is not None

    @property
    def failed(self) -> bool:
        return self._error is not None

    def get(self) -> Any:
        """The engine; while it loads, wait up to `wait_s`, then refuse with how long it has taken."""
        if self._engine is None and self.wait_s > 0:
            self._settled.wait(self.wait_s)
        if self._engine is not None:
            return self._engine
        if self._error:
            raise AppError(f"the model failed to load: {self._error}")
        raise AppError(f"the model is still loading ({time.monotonic() - self._started:.0f} s so far); try again in a moment")

    def status(self) -> str:
        """One line for the page header."""
        if self._engine is not None:
            model = getattr(self._engine, "model_id", self.description)
            note = getattr(self._engine, "knowledge_note", "")
            return f"Model **{model}** is ready" + (f" · knowledge: {note}" if note else "")
        if self._error:
            return f"Model failed to load: {self._error}"
        return f"Loading model {self.description} … {time.monotonic() - self._started:.0f} s"

"""Launching the editor on a free local port for API and browser tests."""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "app"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    demo: object


@contextmanager
def served(engine, store, *, auth: Callable[[str, str], bool] | None = None, defaults=None, queue=None):
    """The editor built by `build_demo`, launched in-process; closed afterwards."""
    from app.ui import build_demo

    port = free_port()
    demo = build_demo(engine, store, defaults=defaults, queue=queue)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, auth=auth)
    try:
        yield Server(f"http://127.0.0.1:{port}/", demo)
    finally:
        demo.close()

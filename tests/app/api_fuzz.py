"""Hostile inputs and response oracles for fuzzing every public API name over HTTP.

The server is assembled as `python -m app` assembles it (`app.cli.mount_pages`: editor at `/`
behind the database login, evaluation pages at `/eval`), so errors reach clients exactly as
they would in production. Every exception Gradio turns into an error response is also
recorded in-process, so a handler that crashed is told apart from a deliberate refusal even
when the client only sees a bare "Error".
"""

from __future__ import annotations

import builtins
import json
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from hypothesis import strategies as st

from tests.app.helpers import free_port

MB = 1 << 20
HUGE = 2**63
# Where an internal error would show in a response: tracebacks, source paths, driver names.
INTERNALS = ("Traceback", 'File "', '.py"', "sqlalchemy", "psycopg", "sqlite3.")


def _exception_names() -> tuple[str, ...]:
    """Class names of the exceptions the product can raise, as they would appear in a leak."""
    import sqlalchemy.exc

    import app.errors
    import storage

    modules = (builtins, sqlalchemy.exc, app.errors, storage)
    names = {name for module in modules for name, value in vars(module).items()
             if isinstance(value, type) and issubclass(value, BaseException)}
    return tuple(sorted(n for n in names if len(n) > 8))  # "Error", "Warning", "NotFound" alone read as prose


EXCEPTION_NAMES = _exception_names()


# ---------------------------------------------------------------- strategies
def big(char: str) -> str:
    return char * MB


HOSTILE_CHARS = st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\n", "'", '"', "<", "%", "\\"])
texts = st.one_of(
    st.just(""),
    st.sampled_from([" ", "\x00", "\ud800", "a\x00b", "x\ud800y", "\n\n", "<script>", "1; DROP TABLE stories"]),
    st.text(alphabet=st.one_of(st.characters(), HOSTILE_CHARS), max_size=40),
    st.sampled_from(["a", "\x00", "\ud800", "é"]).map(big),  # 1 MB strings
)
indexes = st.one_of(st.sampled_from([-1, 0, 1, 2, 3, HUGE, -HUGE, 2**64, 10**30]), st.integers())
scalars = st.one_of(st.none(), st.booleans(), indexes, st.floats(), texts)
containers = st.one_of(st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=6), scalars, max_size=3))
anything = st.one_of(scalars, containers)

# How a story id is written: as the page sends it, or bent out of shape.
ID_FORMS = {
    "int": lambda n: n, "str": str, "float": float, "padded": lambda n: f" {n} ", "plus": lambda n: f"+{n}",
    "zeros": lambda n: f"00{n}", "decimal": lambda n: f"{n}.0", "list": lambda n: [n], "dict": lambda n: {"id": n},
    "negative": lambda n: -n, "huge": lambda n: n + HUGE, "hex": hex,
}
STORY_OWNERS = ("own", "other", "other", "missing")  # another user's story is the main attack


# ---------------------------------------------------------------- the server
class Running:
    """The served app: its URL, store, engine, and every exception Gradio answered with an error."""

    def __init__(self, url: str, store, engine, errors: list[BaseException]) -> None:
        self.url, self.store, self.engine, self.errors = url, store, engine, errors

    def __repr__(self) -> str:  # short, for hypothesis's report of a failing example
        return f"Running({self.url!r})"


PRODUCT = tuple(str(Path(__file__).resolve().parents[2] / package) + "/" for package in ("app", "storage", "engine"))


def raised_in_product(error: BaseException) -> bool:
    """True when `error`, or an exception that caused it, passed through the product's own code."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return any(frame.filename.startswith(PRODUCT) for link in chain for frame in traceback.extract_tb(link.__traceback__))


def crashed_in_product(error: BaseException) -> bool:
    """A handler crash: not a `gr.Error`, raised in the product's code.

    Any other exception is Gradio refusing a malformed value (wrong arity, a value its
    component cannot read) before a handler of ours runs.
    """
    import gradio as gr

    return not isinstance(error, gr.Error) and raised_in_product(error)


@contextmanager
def recorded_errors() -> Iterator[list[BaseException]]:
    """Record each exception Gradio serialises into an error response (its one exit for errors)."""
    import gradio.queueing
    import gradio.utils

    seen: list[BaseException] = []
    original = gradio.utils.error_payload

    def recording(error, show_error):
        if error is not None:
            seen.append(error)
        return original(error, show_error)

    gradio.utils.error_payload = gradio.queueing.error_payload = recording
    try:
        yield seen
    finally:
        gradio.utils.error_payload = gradio.queueing.error_payload = original


@contextmanager
def serve_like_the_cli(store, engine) -> Iterator[Running]:
    """The editor (behind the database login) and the evaluation pages on one loopback port."""
    import uvicorn
    from fastapi import FastAPI

    from app.auth import database_checker, remember_client
    from app.cli import mount_pages
    from app.studies.ui import build_eval_demo
    from app.ui import build_demo

    server = FastAPI()
    remember_client(server)
    mount_pages(server, build_demo(engine, store), eval_demo=build_eval_demo(session_factory=store.factory),
                auth=database_checker(store.factory), factory=store.factory)
    port = free_port()
    uvicorn_server = uvicorn.Server(uvicorn.Config(server, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    with recorded_errors() as errors:
        thread.start()
        deadline = time.monotonic() + 60
        while not uvicorn_server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fuzzing server did not start")
            time.sleep(0.05)
        try:
            yield Running(f"http://127.0.0.1:{port}", store, engine, errors)
        finally:
            uvicorn_server.should_exit = True
            thread.join(timeout=30)


def logged_in(url: str, name: str, password: str) -> httpx.Client:
    """An HTTP client holding the editor's login cookie."""
    client = httpx.Client(base_url=url, timeout=60)
    answer = client.post("/login", data={"username": name, "password": password})
    assert answer.status_code == 200, answer.text
    return client


# ---------------------------------------------------------------- calls and oracles
@dataclass
class Answer:
    """One API call's outcome: HTTP status and raw body of each step, and the final event."""

    status: int
    body: str
    event: str = ""
    data: object = None
    queued: bool = True  # through `/call/<name>`; False for the direct `/run/<name>` route


def call(client: httpx.Client, prefix: str, api_name: str, data: list) -> Answer:
    """POST the inputs to Gradio's `/call/<name>` route, then read its event stream to the end.

    The body is written with `ensure_ascii`, so lone surrogates and NUL travel as JSON escapes
    the way any client could send them.
    """
    content = json.dumps({"data": data}, ensure_ascii=True)
    posted = client.post(f"{prefix}/gradio_api/call/{api_name}", content=content,
                         headers={"content-type": "application/json"})
    if posted.status_code != 200:
        return Answer(posted.status_code, posted.text)
    event_id = posted.json()["event_id"]
    streamed = client.get(f"{prefix}/gradio_api/call/{api_name}/{event_id}")
    event, data_out = "", None
    for block in streamed.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") in ("complete", "error"):
            event, data_out = lines["event"], json.loads(lines.get("data", "null"))
    return Answer(streamed.status_code, posted.text + streamed.text, event, data_out)


def assert_clean(answer: Answer, errors: list[BaseException], *, secrets: tuple[str, ...] = ()) -> None:
    """No internals, no other user's text, no crash, no 5xx but the direct route's error answers.

    Args:
        answer: The call's outcome.
        errors: The exceptions Gradio answered with during this call (`Running.errors`).
        secrets: Text of another user's stories that must not come back.
    """
    body = answer.body
    for mark in INTERNALS:
        assert mark not in body, f"internals ({mark!r}) in the response: {body[:600]}"
    for name in EXCEPTION_NAMES:
        assert name not in body, f"exception name {name!r} in the response: {body[:600]}"
    for secret in secrets:
        assert secret not in body, f"another user's text {secret!r} in the response: {body[:600]}"
    crashes = [e for e in errors if crashed_in_product(e)]
    assert not crashes, f"a handler crashed: {crashes[0]!r}"
    if not answer.queued and answer.status == 500:  # the direct route answers every error with 500
        answer = Answer(200, body, "error", json.loads(body), queued=False)
    assert answer.status < 500, f"HTTP {answer.status}: {body[:600]}"
    if answer.status != 200:
        return  # refused before the handler ran (a malformed body); checked above for internals
    if answer.queued:
        assert answer.event in ("complete", "error"), f"the event stream ended without a result: {body[:600]}"
    if answer.event == "error":
        _assert_refusal(answer.data, errors, body)


def _assert_refusal(data, errors: list[BaseException], body: str) -> None:
    """A refusal is a one-line `gr.Error`, or a bare "Error" when Gradio refused the value itself."""
    import gradio as gr

    error = data if isinstance(data, dict) else {}
    message = error.get("error")
    if message is None:
        assert errors and not any(isinstance(e, gr.Error) for e in errors), body[:600]
        return
    assert isinstance(message, str) and message.strip(), f"an error with an empty message: {body[:600]}"
    assert "\n" not in message.strip(), f"not a one-line message: {message[:600]!r}"
    ours = any(raised_in_product(e) for e in errors)  # Gradio's own refusals echo the value whole
    assert not ours or len(message) <= 500, f"a refusal that echoes the input: {message[:600]!r}"

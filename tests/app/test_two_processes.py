"""Two `python -m app` processes on one database serve one writer alternately, as one would.

A login made on one process is accepted by the other (same cookie, tokens in the
database); each action goes to the other process than the last; undo on one takes back a
regenerate made on the other; a double click split over the two writes one sentence.
PostgreSQL when `CNTRL_TEST_PG_URL` is set (the test command sets it), else one SQLite file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

import pytest
from gradio_client import Client
from sqlalchemy import create_engine, text

from storage import create_user, make_engine, make_sessionmaker, upgrade
from tests.app.helpers import free_port


@pytest.fixture
def database_url(tmp_path):
    base = os.environ.get("CNTRL_TEST_PG_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def wait_ready(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app exited: {process.stdout.read() if process.stdout else ''}")
        try:
            urllib.request.urlopen(f"{url}readyz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not become ready in {timeout_s} s")


@pytest.fixture
def two_apps(tmp_path, database_url):
    engine = make_engine(database_url)
    upgrade(engine=engine)
    with make_sessionmaker(engine).begin() as session:
        create_user(session, name="alice", password="pw-alice", role="writer")
    engine.dispose()
    processes, urls = [], []
    for name in ("a", "b"):
        port = free_port()
        command = [sys.executable, "-m", "app", "--fake-engine", "--login", "--no-eval", "--port", str(port),
                   "--data-dir", str(tmp_path / name), "--database-url", database_url]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        urls.append(f"http://127.0.0.1:{port}/")
    try:
        for url, process in zip(urls, processes, strict=True):
            wait_ready(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def login_cookie(url: str) -> str:
    """Log in on one process; the Cookie header the browser would send afterwards."""
    body = urllib.parse.urlencode({"username": "alice", "password": "pw-alice"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{url}login", data=body), timeout=30) as answer:
        cookies = answer.headers.get_all("set-cookie")
    pairs = [c.split(";", 1)[0] for c in cookies if c.startswith("access-token")]
    assert pairs, cookies
    return "; ".join(pairs)


def test_two_processes_serve_one_writer_alternately(two_apps):
    a_url, b_url = two_apps
    cookie = login_cookie(a_url)
    a, b = (Client(url, headers={"Cookie": cookie}, verbose=False) for url in (a_url, b_url))  # logged in on a only
    with pytest.raises(ValueError):
        Client(b_url, verbose=False)  # b still asks strangers to log in
    story = a.predict("Ann drove home.", api_name="/new_story")
    first = b.predict(story, "car", api_name="/write_next")
    second = a.predict(story, "rain", api_name="/write_next")
    assert "car" in first and "rain" in second
    again = b.predict(story, 2, "umbrella", api_name="/regenerate")
    assert "umbrella" in again
    assert a.predict(story, api_name="/undo") == f"Ann drove home. {first} {second}"  # the old version back
    tree = json.loads(b.predict(story, api_name="/export_story"))
    assert sorted(n["text"] for n in tree["nodes"]) == sorted([first, second, again])

    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def click(client):
        barrier.wait()
        try:
            outcomes.append(client.predict(story, "", api_name="/write_next"))
        except Exception as error:  # the refusal reaches the client as its one-line message
            outcomes.append(f"refused: {error}")

    threads = [threading.Thread(target=click, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(outcomes) == 2 and len(refused) == 1 and "already being written" in refused[0], outcomes
    text_now = a.predict(story, api_name="/undo")  # one sentence was added; undo removes exactly it
    assert text_now == f"Ann drove home. {first} {second}"

"""SIGTERM stops a server that is writing a sentence within seconds, and the story stays as acknowledged.

The server is `python -m app --fake-engine` whose third sentence streams at 3 s a chunk (about
20 s for the sentence): a server that waited for it would take that long to stop.
"""

from __future__ import annotations

import signal
import sys
import time

import pytest
from gradio_client import Client

from tests.app.helpers import free_port
from tests.app.test_faults import AppProcess, integrity, story_texts

STOP_WITHIN_S = 10


def start(tmp_path, *head: str) -> AppProcess:
    port = free_port()
    running = AppProcess([*head, "--port", str(port), "--no-eval", "--data-dir", str(tmp_path),
                          "--database-url", f"sqlite:///{tmp_path / 'stories.db'}"], port)
    running.wait_ready()
    return running


@pytest.mark.slow
def test_sigterm_mid_sentence_stops_within_seconds_and_keeps_every_acknowledged_sentence(tmp_path):
    first = start(tmp_path, sys.executable, "-m", "tests.app.announcing_app", "0.02,0.02,3")
    try:
        client = Client(first.url, verbose=False)
        story = client.predict("Ann drove home.", api_name="/new_story")
        acknowledged = [client.predict(story, "", api_name="/write_next") for _ in range(2)]
        job = client.submit(story, "rain", api_name="/write_next")
        first.wait_for_line("CHUNK 3 ")  # sentence 3 has started streaming
        sent = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(timeout=STOP_WITHIN_S + 20)
        took = time.monotonic() - sent
    finally:
        first.stop()
    assert took < STOP_WITHIN_S, f"the server took {took:.1f} s to stop"
    try:
        answer = job.result(timeout=30)
    except Exception as error:  # noqa: BLE001 - a refusal or a broken connection: either way, not acknowledged
        answer = error
    assert not isinstance(answer, str)  # the writer was never told sentence 3 was saved

    database = tmp_path / "stories.db"
    assert integrity(database) == "ok"
    assert story_texts(f"sqlite:///{database}", int(story)) == acknowledged  # no half sentence
    second = start(tmp_path, sys.executable, "-m", "app", "--fake-engine")
    try:
        client = Client(second.url, verbose=False)
        # the stopped server gave its writing lease back: the story is writable at once
        assert "rain" in client.predict(story, "rain", api_name="/write_next")
        assert story_texts(f"sqlite:///{database}", int(story))[:2] == acknowledged
    finally:
        second.stop()

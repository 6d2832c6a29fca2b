"""The page's own named events through gradio_client (one client = one browser session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.app.helpers import served

PANEL = ["balanced", 0.8, 0.95, 50, 40, 2, 5, 4.0, 7]  # preset ... seed


@pytest.fixture
def client(fake, store):
    with served(fake, store) as server:
        yield Client(server.url, verbose=False)


def export(client, story: str) -> dict:
    return json.loads(client.predict(story, api_name="/export_story"))


def test_writing_events(client):
    story, premise, title = client.predict("Ann drove home.", "The drive", api_name="/start_story")
    assert (premise, title) == ("Ann drove home.", "The drive")
    assert client.predict(story, -1, api_name="/suggest_next_keywords") == "phone, battery"
    assert client.predict(story, "car", *PANEL, api_name="/write_sentence") == ""  # the live row is cleared
    assert client.predict(story, *PANEL, api_name="/continue_story") == ""
    nodes = export(client, story)["nodes"]
    assert [n["keywords"] for n in nodes] == [["car"], ["store", "charger"]]
    assert nodes[0]["seed"] == 7 and len(nodes[0]["candidates"]) == 2
    client.predict(story, api_name="/undo_change")
    assert export(client, story)["head"] == 1
    client.predict(story, api_name="/redo_change")
    assert export(client, story)["head"] == 2
    assert client.predict(api_name="/open_last_story")[0] == story


def test_story_list_events(client):
    story, *_ = client.predict("Ann drove home.", "", api_name="/start_story")
    pick = int  # the story list takes the id as a number
    client.predict(story, "car", *PANEL, api_name="/write_sentence")
    assert client.predict(pick(story), "Renamed", api_name="/rename_story")[2] == "Renamed"
    fork, _, fork_title = client.predict(pick(story), api_name="/fork_story")
    assert fork != story and fork_title == "Renamed (fork)"
    table = client.predict(False, api_name="/list_stories")
    assert sorted(str(row[0]) for row in table["data"]) == sorted([story, fork])
    client.predict(pick(fork), api_name="/delete_story")
    assert [str(row[0]) for row in client.predict(False, api_name="/list_stories")["data"]] == [story]
    client.predict(pick(fork), api_name="/restore_story")
    assert client.predict(pick(story), api_name="/open_story")[0] == story
    markdown = Path(client.predict(pick(story), api_name="/export_markdown_file")).read_text()
    assert markdown.startswith("# Renamed")
    document = client.predict(pick(story), api_name="/export_json_file")
    imported, *_ = client.predict(handle_file(document), api_name="/import_story")
    assert imported not in (story, fork)
    assert export(client, imported)["nodes"][0]["text"] == export(client, story)["nodes"][0]["text"]


def test_history_events(client):
    story, *_ = client.predict("Ann drove home.", "", api_name="/start_story")
    client.predict(story, "car", *PANEL, api_name="/write_sentence")
    first_text = export(client, story)["nodes"][0]["text"]
    client.predict(story, 1, "boat", api_name="/regenerate")
    assert "boat" in export(client, story)["nodes"][-1]["text"]
    first_id = 1 + 0  # the first node this database ever stored
    client.predict(story, first_id, api_name="/make_version_current")
    document = export(client, story)
    assert document["nodes"][document["head"] - 1]["text"] == first_text
    fork, *_ = client.predict(story, first_id, api_name="/fork_from_version")
    assert export(client, fork)["nodes"][0]["text"] == first_text


def test_the_page_tells_a_writer_beyond_the_queue_busy_with_the_position(fake, store):
    """Three browser sessions press Write at once against a queue of 1 running + 1 waiting."""
    import threading
    import time

    from app.admission import WritingQueue

    fake.chunk_delay_s = 0.1
    with served(fake, store, queue=WritingQueue(concurrency=1, capacity=1, max_wait_s=30)) as server:
        clients = [Client(server.url, verbose=False) for _ in range(3)]
        stories = [c.predict(f"Writer {i} drove home.", "", api_name="/start_story")[0] for i, c in enumerate(clients)]
        outcomes: dict[int, str] = {}

        def press_write(i: int) -> None:
            try:
                clients[i].predict(stories[i], "car", *PANEL, api_name="/write_sentence")
                outcomes[i] = "wrote"
            except Exception as error:  # the page shows the refusal as its message
                outcomes[i] = f"refused: {error}"

        threads = [threading.Thread(target=press_write, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.15)
        for t in threads:
            t.join(timeout=60)
    refused = [o for o in outcomes.values() if o.startswith("refused")]
    assert len(outcomes) == 3 and len(refused) == 1, outcomes
    assert "busy" in refused[0] and "position 2" in refused[0] and "nothing was lost" in refused[0]

"""Every stateless endpoint through gradio_client, with and without an auth file."""

from __future__ import annotations

import json
import threading

import pytest
from gradio_client import Client

from app.auth import add_user, database_checker, import_auth_file, read_auth_file
from storage import create_user
from tests.app.helpers import served


@pytest.fixture
def server(fake, store):
    with served(fake, store) as running:
        yield running


@pytest.fixture
def client(server) -> Client:
    return Client(server.url, verbose=False)


def test_write_regenerate_undo_export_through_the_api(client, fake):
    story = client.predict("Tom let his friend borrow his phone.", api_name="/new_story")
    assert story.isdigit()
    assert client.predict(story, api_name="/suggest_keywords") == "phone, battery"
    first = client.predict(story, "", api_name="/write_next")
    assert "phone" in first and "battery" in first
    second = client.predict(story, "umbrella, rain", api_name="/write_next")
    assert "umbrella" in second
    again = client.predict(story, 2, "bicycle", api_name="/regenerate")
    assert "bicycle" in again and again != second
    text = client.predict(story, api_name="/undo")
    assert text == f"Tom let his friend borrow his phone. {first} {second}"
    document = json.loads(client.predict(story, api_name="/export_story"))
    assert document["format"] == "cntrl-story" and len(document["nodes"]) == 3
    bicycle = next(n for n in document["nodes"] if "bicycle" in n["text"])
    assert bicycle["keywords"] == ["bicycle"] and bicycle["model"] == "fake-engine" and bicycle["facts"]


def test_errors_come_back_as_messages(client, fake):
    with pytest.raises(Exception, match="premise is empty"):
        client.predict("   ", api_name="/new_story")
    with pytest.raises(Exception, match="no such story for this account"):
        client.predict("999", "", api_name="/write_next")
    with pytest.raises(Exception, match="no such story for this account"):
        client.predict("1; DROP TABLE stories", api_name="/export_story")
    story = client.predict("Ann drove home.", api_name="/new_story")
    with pytest.raises(Exception, match="there is no sentence 3"):
        client.predict(story, 3, "x", api_name="/regenerate")
    fake.fail_next(RuntimeError("the model ran out of memory"))
    with pytest.raises(Exception, match="engine failed on this sentence, nothing was saved"):
        client.predict(story, "", api_name="/write_next")
    assert json.loads(client.predict(story, api_name="/export_story"))["nodes"] == []


def test_a_generation_server_that_is_down_is_named_and_nothing_is_lost(client, fake):
    from engine.backends import BackendUnavailable

    story = client.predict("Ann drove home.", api_name="/new_story")
    client.predict(story, "", api_name="/write_next")
    fake.fail_next(BackendUnavailable("the vLLM server at http://127.0.0.1:8000/v1 does not answer: refused"))
    with pytest.raises(Exception, match="vLLM server at http://127.0.0.1:8000/v1 does not answer"):
        client.predict(story, "", api_name="/write_next")
    assert len(json.loads(client.predict(story, api_name="/export_story"))["nodes"]) == 1
    client.predict(story, "", api_name="/write_next")  # the server is back
    assert len(json.loads(client.predict(story, api_name="/export_story"))["nodes"]) == 2


def test_two_concurrent_writes_from_two_windows_keep_one_chain(client, fake):
    """Both requests reach the service at once: one writes, the other is told the story is busy."""
    fake.chunk_delay_s = 0.05
    story = client.predict("Ann drove home.", api_name="/new_story")
    outcomes: list[str] = []

    def write():
        try:
            outcomes.append(client.predict(story, "", api_name="/write_next"))
        except Exception as error:
            outcomes.append(f"refused: {error}")

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(refused) == 1 and "already being written" in refused[0], outcomes
    nodes = json.loads(client.predict(story, api_name="/export_story"))["nodes"]
    assert [n["position"] for n in nodes] == [0]  # one sentence, never two versions of one
    client.predict(story, "", api_name="/write_next")  # the refused window simply tries again
    nodes = json.loads(client.predict(story, api_name="/export_story"))["nodes"]
    assert [n["position"] for n in nodes] == [0, 1] and nodes[1]["parent"] == nodes[0]["ref"]


def test_with_logins_each_user_sees_only_their_own_stories(tmp_path, fake, store):
    """Alice's account comes from an older auth file, Bob's from the database; both log in."""
    path = tmp_path / "users.auth"
    add_user(path, "alice", "pw-alice")
    assert "pw-alice" not in path.read_text() and set(read_auth_file(path)) == {"alice"}
    assert import_auth_file(store.factory, path) == ["alice"]
    store.run(lambda s: create_user(s, name="bob", password="pw-bob", role="writer"))
    with served(fake, store, auth=database_checker(store.factory)) as server:
        with pytest.raises(ValueError, match="Could not login"):
            Client(server.url, auth=("alice", "wrong"), verbose=False)
        alice = Client(server.url, auth=("alice", "pw-alice"), verbose=False)
        bob = Client(server.url, auth=("bob", "pw-bob"), verbose=False)
        story = alice.predict("Alice's secret premise.", api_name="/new_story")
        alice.predict(story, "", api_name="/write_next")
        for call in (lambda: bob.predict(story, api_name="/export_story"),
                     lambda: bob.predict(story, "", api_name="/write_next"),
                     lambda: bob.predict(story, api_name="/undo")):
            with pytest.raises(Exception, match="no such story for this account"):
                call()
        assert len(json.loads(alice.predict(story, api_name="/export_story"))["nodes"]) == 1


def test_auth_file_refuses_malformed_lines(tmp_path):
    path = tmp_path / "users.auth"
    path.write_text("alice:plaintext\n")
    with pytest.raises(ValueError, match="expected 'name:\\$argon2"):
        read_auth_file(path)
    with pytest.raises(ValueError, match="without spaces"):
        add_user(path.with_name("other"), "a b", "pw")


def test_token_alternatives_and_continue_from_token_by_api(client):
    story = client.predict("Ann drove home.", api_name="/new_story")
    first = client.predict(story, "car", api_name="/write_next")
    tokens = json.loads(client.predict(story, 1, api_name="/token_alternatives"))
    assert "".join(t["text"] for t in tokens) == first and all(len(t["alternatives"]) >= 5 for t in tokens)
    pick = tokens[2]["alternatives"][0]["text"]
    again = client.predict(story, 1, 2, pick, api_name="/continue_from_token")
    assert again.startswith(tokens[0]["text"] + tokens[1]["text"] + pick) and again != first
    with pytest.raises(Exception, match="position must be 0 or more"):
        client.predict(story, 1, -1, pick, api_name="/continue_from_token")
    with pytest.raises(Exception, match="not one of the tokens shown"):
        client.predict(story, 1, 2, "dragon", api_name="/continue_from_token")
    document = json.loads(client.predict(story, api_name="/export_story"))
    assert all(n["tokens"] and n["tokens"][0] for n in document["nodes"])  # exported with every version

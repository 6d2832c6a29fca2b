"""Memory and author's note in the app: StoryService keeps them per story for its owner, every
way of writing hands them to the engine, and /set_memory sets them through gradio_client."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from app.errors import AppError, StoryNotFound
from app.writing import StepRequest
from tests.app.helpers import served

PREMISE = "Tom let his friend borrow his phone."


def write(service, user, story_id, keywords=""):
    *_, view = service.stream_write(user_id=user, story_id=story_id, request=StepRequest(keywords=keywords))
    return view


def test_the_engine_gets_memory_and_note_for_write_regenerate_and_following_sentences(service, fake, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    view = service.set_memory(user_id=alice, story_id=story.id, memory="Tom is a sailor.", authors_note="Calm.",
                              note_depth=2)
    assert (view.memory, view.authors_note, view.note_depth) == ("Tom is a sailor.", "Calm.", 2)
    write(service, alice, story.id, "battery")
    write(service, alice, story.id, "charger")
    service.suggest_keywords(user_id=alice, story_id=story.id)
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1, keep_following=True,
                                         request=StepRequest(keywords="umbrella"))
    seen = [(c.method, c.context.memory, c.context.authors_note, c.context.note_depth) for c in fake.calls]
    assert len(seen) == 5 and all(s[1:] == ("Tom is a sailor.", "Calm.", 2) for s in seen)
    assert [n.provenance.steering["authors_note"]["text"] for n in view.nodes] == ["Calm.", "Calm."]


def test_a_fork_and_an_export_keep_them(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    service.set_memory(user_id=alice, story_id=story.id, memory="Tom is a sailor.", authors_note="Calm.")
    write(service, alice, story.id, "battery")
    fork = service.fork(user_id=alice, story_id=story.id)
    assert (fork.memory, fork.authors_note) == ("Tom is a sailor.", "Calm.")
    copy = service.import_json(user_id=alice, text=service.export_json(user_id=alice, story_id=story.id))
    assert (copy.memory, copy.authors_note, copy.note_depth) == ("Tom is a sailor.", "Calm.", 1)


@pytest.mark.parametrize(("memory", "note", "depth", "message"), [
    ("x" * 100_001, "", None, "memory is 100,001 characters; the limit is 100,000"),
    ("", "bad\x00note", None, "author's note contains a NUL byte"),
    ("", "", 21, "note depth must be a whole number from 0 to 20"),
])
def test_a_refused_value_says_why_and_loses_nothing(service, alice, memory, note, depth, message):
    story = service.new_story(user_id=alice, premise=PREMISE)
    service.set_memory(user_id=alice, story_id=story.id, memory="Kept.", authors_note="Kept too.")
    with pytest.raises(AppError, match=message):
        service.set_memory(user_id=alice, story_id=story.id, memory=memory, authors_note=note, note_depth=depth)
    view = service.load(user_id=alice, story_id=story.id)
    assert (view.memory, view.authors_note, view.note_depth) == ("Kept.", "Kept too.", 1)


def test_only_the_writers_own_story(service, alice, bob):
    story = service.new_story(user_id=alice, premise=PREMISE)
    with pytest.raises(StoryNotFound):
        service.set_memory(user_id=bob, story_id=story.id, memory="Mine.", authors_note="")
    assert service.load(user_id=alice, story_id=story.id).memory == ""


def test_set_memory_through_the_api(fake, store):
    note = ("rain " * 20_000)[:99_999] + "."
    with served(fake, store) as server:
        client = Client(server.url, verbose=False)
        story = client.predict(PREMISE, api_name="/new_story")
        saved = client.predict(story, "Tom is a sailor.", note, api_name="/set_memory")
        assert saved.startswith(f"Saved for story {story}: memory 16 characters, author's note 100,000 characters")
        client.predict(story, "battery", api_name="/write_next")
        document = json.loads(client.predict(story, api_name="/export_story"))
        assert (document["memory"], document["authors_note"], document["note_depth"]) == ("Tom is a sailor.", note, 1)
        steering = document["nodes"][0]["steering"]
        assert steering["memory"]["text"] == "Tom is a sailor." and steering["authors_note"]["chars"] == 100_000
        assert any(n.startswith("author's note clipped to") for n in document["nodes"][0]["notes"])
        with pytest.raises(Exception, match="memory is 100,001 characters"):
            client.predict(story, "x" * 100_001, "", api_name="/set_memory")
        with pytest.raises(Exception, match="author's note must be text"):
            client.predict(story, "", 5, api_name="/set_memory")
        with pytest.raises(Exception, match="no such story for this account"):
            client.predict("999", "a", "b", api_name="/set_memory")
        assert client.predict(story, None, None, api_name="/set_memory").startswith(
            f"Saved for story {story}: memory 0 characters")
    assert fake.calls[-1].context.authors_note == note

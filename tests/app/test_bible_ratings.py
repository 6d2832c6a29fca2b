"""The story bible and ratings in the app: StoryService hands a story's bible to every way of
writing, records which entries a sentence used, rates any version, refuses bad input without
losing anything, and /add_bible_entry and /rate_sentence work through gradio_client."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from app.errors import AppError, StoryNotFound
from app.writing import StepRequest
from tests.app.helpers import served

PREMISE = "Mara walked down to the harbor."


def write(service, user, story_id, keywords=""):
    *_, view = service.stream_write(user_id=user, story_id=story_id, request=StepRequest(keywords=keywords))
    return view


def test_every_way_of_writing_gets_the_bible_and_sentences_name_the_entries_they_used(service, fake, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    mara = service.add_bible_entry(user_id=alice, story_id=story.id, name="Mara", keys="Mara, fisherwoman",
                                   text="Mara is blind and reads by touch.")
    rule = service.add_bible_entry(user_id=alice, story_id=story.id, name="Town", keys="", always=True,
                                   text="Nobody in Port Ellis ever lies.")
    write(service, alice, story.id, "boat")
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1, keep_following=True,
                                         request=StepRequest(keywords="net"))
    stream_calls = [c for c in fake.calls if c.method == "stream_step"]
    assert len(stream_calls) == 2 and all(len(c.context.bible) == 2 for c in stream_calls)
    used = {f["entry"]: f for f in view.nodes[0].provenance.facts if f["source"] == "bible"}
    assert set(used) == {mara.id, rule.id}
    assert used[mara.id]["head"] == "Mara" and used[mara.id]["tail"] == "Mara" and used[rule.id]["tail"] == "always"


def test_an_edited_entry_is_what_the_next_sentence_uses_and_a_deleted_one_is_gone(service, fake, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    entry = service.add_bible_entry(user_id=alice, story_id=story.id, name="Mara", keys="Mara", text="Mara is blind.")
    changed = service.update_bible_entry(user_id=alice, story_id=story.id, entry_id=entry.id, name="Mara",
                                         keys="Mara, Biscuit", text="Mara is blind; Biscuit is her dog.")
    assert changed.versions == 2 and changed.keys == ["Mara", "Biscuit"]
    view = write(service, alice, story.id, "dog")
    assert any(f["text"] == "Mara is blind; Biscuit is her dog." for f in view.nodes[0].provenance.facts)
    service.delete_bible_entry(user_id=alice, story_id=story.id, entry_id=entry.id)
    view = write(service, alice, story.id, "dog")
    assert not any(f["source"] == "bible" for f in view.nodes[1].provenance.facts)
    assert view.nodes[0].provenance.facts[0]["head"] == "Mara"  # the earlier sentence still names it


def test_veto_and_pin_work_for_entries_as_for_facts(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    service.add_bible_entry(user_id=alice, story_id=story.id, name="Mara", keys="Mara", text="Mara is blind.")
    service.add_bible_entry(user_id=alice, story_id=story.id, name="Biscuit", keys="Biscuit", text="Biscuit is a dog.")
    write(service, alice, story.id, "boat")
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1, request=StepRequest(
        keywords="boat", vetoed=("Mara is blind.",), pinned=("Biscuit is a dog.",)))
    facts = view.nodes[0].provenance.facts
    assert facts[0]["text"] == "Biscuit is a dog." and facts[0]["source"] == "bible"
    assert "Mara is blind." not in [f["text"] for f in facts]


@pytest.mark.parametrize(("name", "keys", "text", "message"), [
    ("Mara", "  ,  ", "Mara is blind.", "has no keys"),
    ("Mara", "Mara", "", "needs a text"),
    ("Mara", "Mara", "x" * 5_001, "5,000"),
    ("Mara", "Mara", "bad\x00text", "NUL"),
])
def test_a_bad_entry_says_why_and_loses_nothing(service, alice, name, keys, text, message):
    story = service.new_story(user_id=alice, premise=PREMISE)
    kept = service.add_bible_entry(user_id=alice, story_id=story.id, name="Kept", keys="kept", text="Kept.")
    with pytest.raises(AppError, match=message):
        service.add_bible_entry(user_id=alice, story_id=story.id, name=name, keys=keys, text=text)
    with pytest.raises(AppError, match=message):
        service.update_bible_entry(user_id=alice, story_id=story.id, entry_id=kept.id, name=name, keys=keys, text=text)
    assert [(e.name, e.text) for e in service.bible(user_id=alice, story_id=story.id)] == [("Kept", "Kept.")]


def test_keys_in_any_script_trigger(service, alice):
    story = service.new_story(user_id=alice, premise="今天李伟很早起床。")
    service.add_bible_entry(user_id=alice, story_id=story.id, name="Li Wei", keys="李伟", text="李伟是面包师。")
    service.add_bible_entry(user_id=alice, story_id=story.id, name="Anna", keys="Анна", text="Анна — его сестра.")
    view = write(service, alice, story.id, "Анна, bread")
    assert sorted(f["head"] for f in view.nodes[0].provenance.facts if f["source"] == "bible") == ["Anna", "Li Wei"]


def test_ratings_on_any_version_and_the_refusals(service, alice, bob):
    story = service.new_story(user_id=alice, premise=PREMISE)
    first = write(service, alice, story.id, "boat").nodes[0]
    *_, view = service.stream_regenerate(user_id=alice, story_id=story.id, index=1, request=StepRequest(keywords="net"))
    assert service.rate_sentence(user_id=alice, story_id=story.id, index=1, rating="up", reason="vivid") \
        == "Rated sentence 1 👍 up: vivid"
    assert service.rate_version(user_id=alice, story_id=story.id, node_id=first.id, rating="down").endswith("down.")
    (pair,) = service.preference_pairs(user_id=alice)
    assert (pair["chosen"], pair["rejected"]) == (view.nodes[0].text, first.text)
    with pytest.raises(AppError, match="there is no sentence 2"):
        service.rate_sentence(user_id=alice, story_id=story.id, index=2, rating="up")
    with pytest.raises(AppError, match="up, down"):
        service.rate_sentence(user_id=alice, story_id=story.id, index=1, rating="sideways")
    with pytest.raises(AppError, match="not part of story"):
        service.rate_version(user_id=alice, story_id=story.id, node_id=10**6, rating="up")
    with pytest.raises(StoryNotFound):
        service.rate_sentence(user_id=bob, story_id=story.id, index=1, rating="down")
    service.delete(user_id=alice, story_id=story.id)
    with pytest.raises(StoryNotFound):  # a version of a deleted story
        service.rate_version(user_id=alice, story_id=story.id, node_id=first.id, rating="up")


def test_an_import_with_an_invalid_bible_says_which_entry_and_imports_nothing(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE)
    document = json.loads(service.export_json(user_id=alice, story_id=story.id))
    before = len(service.list(user_id=alice))
    document["bible"] = [{"name": "Mara", "keys": "Mara", "text": "ok"}, {"name": "Biscuit", "keys": [], "text": "x"}]
    with pytest.raises(AppError, match="bible entry 2: entry 'Biscuit' has no keys"):
        service.import_json(user_id=alice, text=json.dumps(document))
    assert len(service.list(user_id=alice)) == before


def test_add_bible_entry_and_rate_sentence_through_the_api(fake, store):
    with served(fake, store) as server:
        client = Client(server.url, verbose=False)
        story = client.predict(PREMISE, api_name="/new_story")
        entry = client.predict(story, "Mara", "Mara, fisherwoman", "Mara is blind and reads by touch.",
                               api_name="/add_bible_entry")
        assert entry.isdigit()
        client.predict(story, "Mara, boat", api_name="/write_next")
        rated = client.predict(story, 1, "down", "she cannot see the boat", api_name="/rate_sentence")
        assert rated == "Rated sentence 1 👎 down: she cannot see the boat"
        document = json.loads(client.predict(story, api_name="/export_story"))
        assert document["bible"][0]["keys"] == ["Mara", "fisherwoman"]
        assert document["ratings"][0]["rating"] == "down" and document["ratings"][0]["ref"] == 1
        (used,) = [f for f in document["nodes"][0]["facts"] if f["source"] == "bible"]
        assert used["entry"] == int(entry) and used["head"] == "Mara"
        for args, message in (((story, "Mara", "", "x"), "has no keys"),
                              (("nope", "Mara", "Mara", "x"), "no such story")):
            with pytest.raises(Exception, match=message):
                client.predict(*args, api_name="/add_bible_entry")
        with pytest.raises(Exception, match="up, down"):
            client.predict(story, 1, "meh", "", api_name="/rate_sentence")
        with pytest.raises(Exception, match="no sentence 5"):
            client.predict(story, 5, "up", "", api_name="/rate_sentence")

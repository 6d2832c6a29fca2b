"""The storyline in the story service, on the FakeEngine: plan, edit a slot, write to the plan,
re-plan from a slot, undo; bad input (empty slots, too many slots, another script, a story that
already has sentences, a failure midway) gets a clear answer and keeps what was written."""

from __future__ import annotations

import pytest

from app.errors import AppError
from app.writing import StreamedText
from tests.app.test_service import write

PREMISE = "Tom let his friend borrow his phone."


def write_to_plan(service, user, story_id):
    deltas, views = [], []
    for item in service.stream_write_to_plan(user_id=user, story_id=story_id):
        (deltas if isinstance(item, StreamedText) else views).append(item)
    return deltas, views[-1]


def test_plan_edit_a_slot_and_write_to_the_plan(service, alice, fake):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    planned = service.plan_story(user_id=alice, story_id=story, sentences=4)
    assert planned.slots == [["phone", "battery"], ["store", "charger"], ["friend", "call"], ["home", "happy"]]
    assert planned.to_dict()["text"] == "phone, battery | store, charger | friend, call | home, happy"
    slots = planned.slots
    slots[2] = ["lighthouse"]
    assert service.set_storyline(user_id=alice, story_id=story, slots=slots).view.storyline["source"] == "writer"
    deltas, view = write_to_plan(service, alice, story)
    assert deltas and len(view.nodes) == 4
    assert "lighthouse" in view.nodes[2].text and view.nodes[2].provenance.keywords == ["lighthouse"]
    assert all(all(k in n.text for k in s) for n, s in zip(view.nodes, slots, strict=True))

    before = [n.text for n in view.nodes]
    slots[2] = ["umbrella"]
    service.set_storyline(user_id=alice, story_id=story, slots=" | ".join(", ".join(s) for s in slots))
    _, view = write_to_plan(service, alice, story)
    after = [n.text for n in view.nodes]
    assert "umbrella" in after[2] and after[:2] + after[3:] == before[:2] + before[3:]
    assert len(view.nodes[2].sibling_ids) == 2
    undone = service.undo(user_id=alice, story_id=story)
    assert [n.text for n in undone.nodes] == before  # the previous version, the others as they were
    assert service.load(user_id=alice, story_id=story).storyline["slots"][2] == ["umbrella"]


def test_the_planner_sees_the_title_above_the_premise(service, alice, fake):
    story = service.new_story(user_id=alice, premise=PREMISE, title="The Borrowed Phone").id
    service.plan_story(user_id=alice, story_id=story, sentences=2)
    assert fake.calls[-1].context.premise == f"The Borrowed Phone\n{PREMISE}"
    for premise in (PREMISE, PREMISE * 20):  # the default title, whole or clipped, is not repeated
        untitled = service.new_story(user_id=alice, premise=premise).id
        service.plan_story(user_id=alice, story_id=untitled, sentences=2)
        assert fake.calls[-1].context.premise == premise


def test_writing_to_a_plan_written_as_planned_changes_nothing(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    service.plan_story(user_id=alice, story_id=story, sentences=2)
    _, view = write_to_plan(service, alice, story)
    deltas, again = write_to_plan(service, alice, story)
    assert deltas == [] and [n.id for n in again.nodes] == [n.id for n in view.nodes]


def test_an_empty_slot_is_predicted_at_write_time_and_recorded(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    service.set_storyline(user_id=alice, story_id=story, slots="rain | | harbor")
    _, view = write_to_plan(service, alice, story)
    assert len(view.nodes) == 3 and view.nodes[1].provenance.keywords_source == "predicted"
    assert view.storyline["slots"][1] == view.nodes[1].provenance.keywords != []


def test_a_plan_on_a_story_with_sentences_keeps_them_and_says_so(service, alice, fake):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    write(service, alice, story, "dog")
    write(service, alice, story, "park")
    planned = service.plan_story(user_id=alice, story_id=story, sentences=2)
    assert planned.slots[:2] == [["dog"], ["park"]] and len(planned.slots) == 4
    assert "their keywords fill slots 1-2; slots 3-4 are planned" in planned.notes[0]
    assert fake.calls[-1].context.sentences == tuple(n.text for n in planned.view.nodes)
    _, view = write_to_plan(service, alice, story)
    assert [n.text for n in view.nodes[:2]] == [n.text for n in planned.view.nodes] and len(view.nodes) == 4


def test_replan_from_a_slot_keeps_the_slots_before_it(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    service.set_storyline(user_id=alice, story_id=story, slots="rain | harbor | old | older")
    again = service.plan_story(user_id=alice, story_id=story, from_slot=3)
    assert again.slots[:2] == [["rain"], ["harbor"]] and len(again.slots) == 4 and again.slots[2] != ["old"]
    with pytest.raises(AppError, match="re-plan from a slot between 1 and 5"):
        service.plan_story(user_id=alice, story_id=story, from_slot=9)


@pytest.mark.parametrize("sentences", [0, 13, 2.5, True])
def test_too_many_or_odd_slot_counts_are_refused(service, alice, sentences):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    with pytest.raises(AppError, match="plan"):
        service.plan_story(user_id=alice, story_id=story, sentences=sentences)
    assert service.load(user_id=alice, story_id=story).storyline == {}


def test_slots_in_another_script_are_kept_with_a_note(service, alice):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    result = service.set_storyline(user_id=alice, story_id=story, slots="rain | Москва | the")
    assert result.slots == [["rain"], ["Москва"], []]
    assert any("another script" in n for n in result.notes) and any("'the' dropped" in n for n in result.notes)
    with pytest.raises(AppError, match="no storyline yet"):
        other = service.new_story(user_id=alice, premise=PREMISE).id
        list(service.stream_write_to_plan(user_id=alice, story_id=other))


def test_a_failure_midway_names_what_was_saved(service, alice, fake):
    story = service.new_story(user_id=alice, premise=PREMISE).id
    service.set_storyline(user_id=alice, story_id=story, slots="rain | harbor | storm")
    fake.enqueue(["Rain", " fell."])
    fake.enqueue(["The", " harbor", " slept."])
    with pytest.raises(AppError, match=r"sentence\(s\) 1, 2 were written and saved; sentence 3 was not written"):
        for item in service.stream_write_to_plan(user_id=alice, story_id=story):
            if not isinstance(item, StreamedText) and len(item.nodes) == 2:
                fake.fail_next(RuntimeError("model crashed"))  # the third sentence fails
    assert [n.text for n in service.load(user_id=alice, story_id=story).nodes] == ["Rain fell.", "The harbor slept."]


def test_plan_and_write_through_the_api(fake, store):
    import json

    from gradio_client import Client

    from tests.app.helpers import served

    with served(fake, store) as server:
        client = Client(server.url, verbose=False)
        story = client.predict(PREMISE, api_name="/new_story")
        planned = json.loads(client.predict(story, 3, api_name="/plan_story"))
        assert planned["text"] == "phone, battery | store, charger | friend, call" and planned["source"] == "scripted"
        edited = json.loads(client.predict(story, "phone | harbor, storm | ", api_name="/set_storyline"))
        assert edited["slots"] == [["phone"], ["harbor", "storm"], []]
        text = client.predict(story, api_name="/write_to_plan")
        assert text.startswith(PREMISE) and "harbor" in text and "storm" in text
        again = json.loads(client.predict(story, 2, api_name="/replan_story"))
        assert again["slots"][0] == ["phone"] and len(again["slots"]) == 3
        with pytest.raises(Exception, match="plan at most 12 sentences"):
            client.predict(story, 40, api_name="/plan_story")
        document = json.loads(client.predict(story, api_name="/export_story"))
        assert document["storyline"]["slots"] == again["slots"]

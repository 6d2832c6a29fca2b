"""Token alternatives of a written sentence, and a new version continued from one of them."""

from __future__ import annotations

import pytest

from app.errors import AppError
from app.writing import StepRequest
from tests.app.test_service import write


def continue_from(service, user, story_id, index, position, token) -> object:
    *_, view = service.stream_continue_from_token(user_id=user, story_id=story_id, index=index, position=position,
                                                  token=token, request=StepRequest())
    return view


def test_each_token_comes_with_five_alternatives_and_their_probabilities(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    _, view = write(service, alice, story.id, "car")
    tokens = service.token_alternatives(user_id=alice, story_id=story.id, index=1)
    assert "".join(t["text"] for t in tokens) == view.nodes[0].text
    for token in tokens:
        assert len(token["alternatives"]) >= 5 and 0 < token["prob"] <= 1
        assert all(a["text"] != token["text"] for a in token["alternatives"])


def test_continuing_from_an_alternative_adds_a_version_that_starts_with_it(service, alice):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    _, view = write(service, alice, story.id, "car")
    old = view.nodes[0].text
    tokens = service.token_alternatives(user_id=alice, story_id=story.id, index=1)
    pick = tokens[2]["alternatives"][0]
    new = continue_from(service, alice, story.id, 1, 2, pick["text"])
    expected_start = tokens[0]["text"] + tokens[1]["text"] + pick["text"]
    assert new.nodes[0].text.startswith(expected_start) and new.nodes[0].versions == 2
    assert new.nodes[0].provenance.keywords == ["car"]  # the sentence's keywords still apply
    again = service.token_alternatives(user_id=alice, story_id=story.id, index=1)
    assert again[2]["id"] == pick["id"]  # the new version records its own tokens
    by_id = continue_from(service, alice, story.id, 1, 0, str(again[0]["alternatives"][1]["id"]))
    assert by_id.nodes[0].versions == 3
    assert service.undo(user_id=alice, story_id=story.id).nodes[0].text == new.nodes[0].text
    assert service.undo(user_id=alice, story_id=story.id).nodes[0].text == old


def test_bad_requests_read_as_messages_and_change_nothing(service, alice, bob):
    story = service.new_story(user_id=alice, premise="Ann drove home.")
    write(service, alice, story.id, "car")
    before = service.load(user_id=alice, story_id=story.id)
    for position, token, message in [(99, " rain", "position must be"), (-1, " rain", "position must be"),
                                     (2, " dragon", "not one of the tokens shown"), (2, "", "not one of the tokens")]:
        with pytest.raises(AppError, match=message):
            continue_from(service, alice, story.id, 1, position, token)
    with pytest.raises(AppError, match="no such story"):
        service.token_alternatives(user_id=bob, story_id=story.id, index=1)
    service.edit_sentence(user_id=alice, story_id=story.id, index=1, text="Ann parked the car.")
    with pytest.raises(AppError, match="no recorded tokens"):
        service.token_alternatives(user_id=alice, story_id=story.id, index=1)
    with pytest.raises(AppError, match="there is no sentence 5"):
        service.token_alternatives(user_id=alice, story_id=story.id, index=5)
    assert service.undo(user_id=alice, story_id=story.id).nodes[0].text == before.nodes[0].text

"""Bad input gets our own exception types and leaves nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage import (
    InvalidInput,
    Node,
    NotFound,
    Provenance,
    StorageError,
    Story,
    add_sibling,
    append_node,
    choose_node,
    create_story,
    load_story,
)


@pytest.fixture
def story(session, users):
    story = create_story(session, user_id=users["ann"], title="T")
    append_node(session, user_id=users["ann"], story_id=story.id, text="First.")
    return story


BAD_NODES = [
    ("text over 100,000 characters", {"text": "x" * 100_001}),
    ("NUL byte in text", {"text": "a\x00b"}),
    ("empty text", {"text": "   "}),
    ("text not a string", {"text": b"bytes"}),
    ("keywords as a string", {"provenance": Provenance(keywords="tire flat")}),
    ("keyword not a string", {"provenance": Provenance(keywords=["tire", 3])}),
    ("empty keyword", {"provenance": Provenance(keywords=["tire", " "])}),
    ("NUL in keyword", {"provenance": Provenance(keywords=["ti\x00re"])}),
    ("too many keywords", {"provenance": Provenance(keywords=[f"k{i}" for i in range(65)])}),
    ("unknown source", {"provenance": Provenance(source="dreamed")}),
    ("fact not a dict", {"provenance": Provenance(facts=["a fact"])}),
    ("fact score not a number", {"provenance": Provenance(facts=[{"score": "high"}])}),
    ("NaN in params", {"provenance": Provenance(params={"temperature": float("nan")})}),
    ("NUL inside a fact", {"provenance": Provenance(facts=[{"text": "a\x00"}])}),
    ("chosen out of range", {"provenance": Provenance(candidates=["a", "b"], chosen=2)}),
    ("seed too large", {"provenance": Provenance(seed=2**64)}),
    ("negative timing", {"provenance": Provenance(timings_ms={"generate": -1})}),
    ("coherence for fewer candidates", {"provenance": Provenance(candidates=["a", "b"], chosen=0, coherence=[0.5])}),
    ("coherence without candidates", {"provenance": Provenance(coherence=[0.5])}),
    ("coherence score not a number", {"provenance": Provenance(candidates=["a"], chosen=0, coherence=["high"])}),
    ("coherence score NaN", {"provenance": Provenance(candidates=["a"], chosen=0, coherence=[float("nan")])}),
    ("coherence as an object", {"provenance": Provenance(candidates=["a"], chosen=0, coherence={"a": 0.5})}),
]


@pytest.mark.parametrize("case, kwargs", BAD_NODES, ids=[c for c, _ in BAD_NODES])
def test_bad_node_input_is_refused_and_nothing_written(session, users, story, case, kwargs):
    before = session.scalar(select(func.count()).select_from(Node))
    head = session.get(Story, story.id).head_node_id
    with pytest.raises(InvalidInput):
        append_node(session, user_id=users["ann"], story_id=story.id, **{"text": "Fine.", **kwargs})
    assert session.scalar(select(func.count()).select_from(Node)) == before
    assert session.get(Story, story.id).head_node_id == head


def test_unknown_ids_raise_not_found(session, users, story):
    with pytest.raises(NotFound):
        load_story(session, user_id=users["ann"], story_id=999_999)
    with pytest.raises(NotFound):
        choose_node(session, user_id=users["ann"], story_id=story.id, node_id=999_999)
    with pytest.raises(NotFound):
        create_story(session, user_id=999_999)
    with pytest.raises(InvalidInput):
        load_story(session, user_id=users["ann"], story_id="1; DROP TABLE stories")
    with pytest.raises(InvalidInput):
        load_story(session, user_id=users["ann"], story_id=-3)


def test_node_from_another_story_is_refused(session, users, story):
    other = create_story(session, user_id=users["ann"], title="Other")
    foreign = append_node(session, user_id=users["ann"], story_id=other.id, text="Elsewhere.")
    with pytest.raises(InvalidInput, match="not part of story"):
        choose_node(session, user_id=users["ann"], story_id=story.id, node_id=foreign.id)
    with pytest.raises(InvalidInput):
        add_sibling(session, user_id=users["ann"], story_id=story.id, node_id=foreign.id, text="X.")
    assert load_story(session, user_id=users["ann"], story_id=story.id).text == "First."


def test_quotes_and_sql_are_stored_as_text(session, users, story):
    text = 'Robert\'); DROP TABLE nodes;-- said "hi".'
    append_node(
        session,
        user_id=users["ann"],
        story_id=story.id,
        text=text,
        provenance=Provenance(keywords=["'; --", "ünïcødé 🚗"]),
    )
    view = load_story(session, user_id=users["ann"], story_id=story.id)
    assert view.nodes[-1].text == text
    assert view.nodes[-1].provenance.keywords == ["'; --", "ünïcødé 🚗"]


def test_every_refusal_is_a_storage_error():
    assert issubclass(InvalidInput, StorageError) and issubclass(NotFound, StorageError)


@pytest.mark.parametrize("tokens", [
    [[{"id": 1, "text": "a", "prob": 1.5}]],  # a probability above 1
    [[{"id": "1", "text": "a", "prob": 0.5}]],  # an id that is not an integer
    [[{"id": 1, "text": "a", "prob": 0.5, "alternatives": [{"id": 2, "text": "b"}]}]],  # no prob
    [[], []],  # more rows than candidates
    [[{"id": 1, "text": "a", "prob": 0.5}] * 513],  # more tokens than any sentence has
])
def test_malformed_token_records_are_refused(tokens):
    from storage import Provenance
    from storage.errors import InvalidInput

    with pytest.raises(InvalidInput):
        Provenance(source="generated", candidates=["A."], chosen=0, tokens=tokens).validated()

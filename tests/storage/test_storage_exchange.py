"""Export a story as JSON (everything, round-trips) and Markdown (the text); import JSON."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from storage import (
    InvalidInput,
    Node,
    PermissionDenied,
    Provenance,
    Story,
    add_sibling,
    append_node,
    create_story,
    export_json,
    export_markdown,
    fork_story,
    import_json,
    load_story,
    undo,
)


def _story_with_branches(session, ann):
    story = create_story(
        session,
        user_id=ann,
        title="Flat",
        premise="Ann drove home.",
        settings={"model": "tiny", "temperature": 0.7},
    )
    append_node(session, user_id=ann, story_id=story.id, text="It was late.")
    second = append_node(
        session,
        user_id=ann,
        story_id=story.id,
        text="The tire popped.",
        provenance=Provenance(
            source="generated",
            keywords=["tire"],
            facts=[{"text": "Tires pop.", "score": 0.5}],
            candidates=["The tire popped.", "It rained."],
            chosen=0,
            seed=3,
            model="tiny",
            timings_ms={"generate": 12.5},
        ),
    )
    add_sibling(
        session,
        user_id=ann,
        story_id=story.id,
        node_id=second.id,
        text="It rained.",
        provenance=Provenance(
            source="generated", candidates=["The tire popped.", "It rained."], chosen=1
        ),
    )
    append_node(session, user_id=ann, story_id=story.id, text="She walked.")
    undo(session, user_id=ann, story_id=story.id)
    return story


def test_json_round_trip_is_exact(session, users):
    ann = users["ann"]
    story = _story_with_branches(session, ann)
    document = export_json(session, user_id=ann, story_id=story.id)
    assert json.loads(json.dumps(document)) == document
    assert len(document["nodes"]) == 4 and document["redo"] == [4]
    copy_ = import_json(session, user_id=users["bob"], document=json.loads(json.dumps(document)))
    assert copy_.owner_id == users["bob"]
    assert export_json(session, user_id=users["bob"], story_id=copy_.id) == document
    original = load_story(session, user_id=ann, story_id=story.id)
    imported = load_story(session, user_id=users["bob"], story_id=copy_.id)
    assert imported.text == original.text == "It was late. It rained."
    assert imported.nodes[1].provenance == original.nodes[1].provenance
    assert imported.can_redo


def test_fork_exports_its_shared_history(session, users):
    ann = users["ann"]
    story = _story_with_branches(session, ann)
    head = load_story(session, user_id=ann, story_id=story.id).nodes[-1]
    fork = fork_story(session, user_id=ann, story_id=story.id, node_id=head.id)
    document = export_json(session, user_id=ann, story_id=fork.id)
    assert [n["text"] for n in document["nodes"]] == ["It was late.", "It rained."]
    again = import_json(session, user_id=ann, document=document)
    assert load_story(session, user_id=ann, story_id=again.id).text == "It was late. It rained."


def test_markdown_has_title_premise_and_text(session, users):
    story = _story_with_branches(session, users["ann"])
    text = export_markdown(session, user_id=users["ann"], story_id=story.id)
    assert text == "# Flat\n\n*Ann drove home.*\n\nIt was late. It rained.\n"


def test_coherence_scores_of_a_reranked_step_are_stored_exported_and_imported(session, users):
    """The scores `Provenance.from_step` takes from a Step read back in candidate order, and export
    and import keep them; a document from before scores existed imports with none."""
    from engine.types import SamplingParams, Step

    step = Step(keywords=["tire"], facts=[], candidates=["The tire popped.", "It rained.", "Ann sang."], chosen=1,
                params=SamplingParams(n_candidates=3), seed=5, model="tiny", coherence=[0.4123, 0.7, 0.0567])
    ann, bob = users["ann"], users["bob"]
    story = create_story(session, user_id=ann, title="Scored", premise="Ann drove home.")
    append_node(session, user_id=ann, story_id=story.id, text=step.sentence,
                provenance=Provenance.from_step(step.to_dict()))
    stored = load_story(session, user_id=ann, story_id=story.id).nodes[0].provenance
    assert (stored.coherence, stored.candidates, stored.chosen) == (step.coherence, step.candidates, 1)
    document = export_json(session, user_id=ann, story_id=story.id)
    assert document["nodes"][0]["coherence"] == step.coherence
    copy_ = import_json(session, user_id=bob, document=json.loads(json.dumps(document)))
    assert load_story(session, user_id=bob, story_id=copy_.id).nodes[0].provenance == stored
    older = copy.deepcopy(document)
    del older["nodes"][0]["coherence"]
    old = import_json(session, user_id=bob, document=older)
    assert load_story(session, user_id=bob, story_id=old.id).nodes[0].provenance.coherence == []


def _broken(document, path, value):
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    "path, value",
    [
        (("format",), "other"),
        (("version",), 99),
        (("nodes", 1, "parent"), 9),
        (("nodes", 0, "ref"), "one"),
        (("nodes", 1, "text"), "bad\x00text"),
        (("nodes", 3, "text"), "x" * 100_001),
        (("nodes", 2, "keywords"), "not a list"),
        (("nodes", 2, "coherence"), [0.5]),
        (("nodes", 2, "position"), 5),
        (("nodes", 2, "created_at"), "yesterday"),
        (("head",), 77),
        (("settings",), ["not", "a", "dict"]),
    ],
)
def test_bad_documents_write_nothing(session, users, path, value):
    story = _story_with_branches(session, users["ann"])
    document = export_json(session, user_id=users["ann"], story_id=story.id)
    stories = session.scalar(select(func.count()).select_from(Story))
    nodes = session.scalar(select(func.count()).select_from(Node))
    with pytest.raises(InvalidInput):
        import_json(session, user_id=users["ann"], document=_broken(document, path, value))
    assert session.scalar(select(func.count()).select_from(Story)) == stories
    assert session.scalar(select(func.count()).select_from(Node)) == nodes


def test_a_crafted_import_never_touches_another_users_story(session, users):
    """Ids, owners and node refs in the document are ignored: an import only ever adds a new story."""
    theirs = _story_with_branches(session, users["ann"])
    before = export_json(session, user_id=users["ann"], story_id=theirs.id)
    crafted = copy.deepcopy(before)
    crafted.update({"id": theirs.id, "story_id": theirs.id, "owner_id": users["ann"], "user_id": users["ann"]})
    for node in crafted["nodes"]:
        node.update({"id": 1, "story_id": theirs.id, "text": "overwritten"})
    mine = import_json(session, user_id=users["bob"], document=crafted)
    assert mine.id != theirs.id and mine.owner_id == users["bob"]
    assert export_json(session, user_id=users["ann"], story_id=theirs.id) == before
    with pytest.raises(PermissionDenied, match="belongs to another user"):
        export_json(session, user_id=users["bob"], story_id=theirs.id)

"""Stories as revision trees: nothing is overwritten; undo, redo and fork move heads."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage import (
    Conflict,
    InvalidInput,
    Node,
    NotFound,
    PermissionDenied,
    Provenance,
    add_sibling,
    append_node,
    children,
    choose_node,
    count_nodes,
    create_story,
    delete_story,
    fork_story,
    list_stories,
    load_story,
    redo,
    replace_from,
    restore_story,
    undo,
)

STEP = {
    "sentence": "The tire went flat.",
    "keywords": ["tire", "flat"],
    "keywords_source": "predicted",
    "facts": [
        {
            "text": "A tire is part of a car.",
            "score": 0.83,
            "relation": "PartOf",
            "head": "tire",
            "tail": "car",
            "sentence": "A tire is part of a car.",
            "weight": 2.0,
            "source": "conceptnet",
        }
    ],
    "candidates": ["The tire went flat.", "The tire burst."],
    "chosen": 0,
    "params": {"temperature": 0.8, "top_p": 0.95, "top_k": 50, "seed": 7},
    "seed": 7,
    "model": "tiny-random",
    "timings_ms": {"keywords": 1.5, "generate": 20.0},
    "notes": ["knowledge off-topic"],
    "backend": {"name": "vllm", "server_url": "http://127.0.0.1:8000/v1", "served_model": "cntrl-smollm2"},
}


def _write(session, user_id, story_id, *texts):
    return [append_node(session, user_id=user_id, story_id=story_id, text=t) for t in texts]


def test_path_keeps_full_provenance(session, users):
    story = create_story(session, user_id=users["ann"], title="Flat", premise="Ann drove home.")
    append_node(session, user_id=users["ann"], story_id=story.id, text="It was late.")
    node = append_node(
        session,
        user_id=users["ann"],
        story_id=story.id,
        text=STEP["sentence"],
        provenance=Provenance.from_step(STEP),
    )
    view = load_story(session, user_id=users["ann"], story_id=story.id)
    assert view.text == "It was late. The tire went flat."
    assert [n.position for n in view.nodes] == [0, 1]
    last = view.nodes[-1].provenance
    assert view.head_node_id == node.id
    assert last.source == "generated" and last.keywords == ["tire", "flat"]
    assert last.facts[0]["score"] == 0.83 and last.facts[0]["relation"] == "PartOf"
    assert last.candidates == STEP["candidates"] and last.chosen == 0
    assert last.seed == 7 and last.model == "tiny-random" and last.params["top_k"] == 50
    assert last.timings_ms == {"keywords": 1.5, "generate": 20.0}
    assert last.backend == STEP["backend"]
    assert view.nodes[0].provenance.source == "typed" and view.nodes[0].provenance.backend == {}


def test_a_malformed_backend_record_is_refused(session, users):
    story = create_story(session, user_id=users["ann"], title="B", premise="Ann drove home.")
    for bad in (["vllm"], {"name": "x" * 501}, {str(i): "v" for i in range(17)}):
        with pytest.raises(InvalidInput, match="backend"):
            append_node(session, user_id=users["ann"], story_id=story.id, text="It was late.",
                        provenance=Provenance(source="generated", backend=bad))
    assert load_story(session, user_id=users["ann"], story_id=story.id).nodes == []


def test_sibling_adds_a_version_and_overwrites_nothing(session, users):
    ann = users["ann"]
    story = create_story(session, user_id=ann)
    first, second = _write(session, ann, story.id, "One.", "Two.")
    other = add_sibling(
        session,
        user_id=ann,
        story_id=story.id,
        node_id=second.id,
        text="Two again.",
        provenance=Provenance(source="edited", keywords=["again"]),
    )
    assert other.parent_id == first.id and other.position == second.position
    view = load_story(session, user_id=ann, story_id=story.id)
    assert view.text == "One. Two again."
    assert (view.nodes[1].version, view.nodes[1].versions) == (2, 2)
    assert session.get(Node, second.id).text == "Two."
    choose_node(session, user_id=ann, story_id=story.id, node_id=second.id)
    view = load_story(session, user_id=ann, story_id=story.id)
    assert view.text == "One. Two." and view.nodes[1].version == 1
    assert [n.id for n in children(session, user_id=ann, story_id=story.id, node_id=first.id)] == [
        second.id,
        other.id,
    ]


def test_undo_redo_move_the_head(session, users):
    ann = users["ann"]
    story = create_story(session, user_id=ann)
    a, b, c = _write(session, ann, story.id, "A.", "B.", "C.")
    assert undo(session, user_id=ann, story_id=story.id).id == b.id
    assert undo(session, user_id=ann, story_id=story.id).id == a.id
    assert load_story(session, user_id=ann, story_id=story.id).text == "A."
    assert redo(session, user_id=ann, story_id=story.id).id == b.id
    assert redo(session, user_id=ann, story_id=story.id).id == c.id
    with pytest.raises(Conflict):
        redo(session, user_id=ann, story_id=story.id)
    for _ in range(3):
        undo(session, user_id=ann, story_id=story.id)
    assert load_story(session, user_id=ann, story_id=story.id).nodes == []
    with pytest.raises(Conflict):
        undo(session, user_id=ann, story_id=story.id)
    redo(session, user_id=ann, story_id=story.id)
    append_node(session, user_id=ann, story_id=story.id, text="B2.")
    assert not load_story(session, user_id=ann, story_id=story.id).can_redo
    assert count_nodes(session, user_id=ann, story_id=story.id) == 4


def test_undo_takes_back_a_replacing_change_then_sentences_and_redo_replays_both(session, users):
    """One store, one rule: a new version (with the sentences re-attached after it) is one change;
    undo returns the old version first, then takes back sentences; redo replays in reverse."""
    ann = users["ann"]
    story = create_story(session, user_id=ann)
    a, b, _c = _write(session, ann, story.id, "A.", "B.", "C.")
    text = lambda: load_story(session, user_id=ann, story_id=story.id).text  # noqa: E731
    replace_from(session, user_id=ann, story_id=story.id, node_id=b.id,
                 records=[("B2.", Provenance(source="edited")), ("C.", Provenance())])
    assert text() == "A. B2. C."
    steps = [undo(session, user_id=ann, story_id=story.id) and text() for _ in range(3)]
    assert steps == ["A. B. C.", "A. B.", "A."]
    assert [redo(session, user_id=ann, story_id=story.id) and text() for _ in range(3)] == [
        "A. B.", "A. B. C.", "A. B2. C."]
    with pytest.raises(Conflict):
        redo(session, user_id=ann, story_id=story.id)
    choose_node(session, user_id=ann, story_id=story.id, node_id=a.id)  # "make current" is a change too
    undo(session, user_id=ann, story_id=story.id)
    assert text() == "A. B2. C."


def test_fork_shares_history_without_copying(session, users):
    ann = users["ann"]
    story = create_story(session, user_id=ann, title="Original")
    a, b, _c = _write(session, ann, story.id, "A.", "B.", "C.")
    before = session.scalar(select(func.count()).select_from(Node))
    fork = fork_story(session, user_id=ann, story_id=story.id, node_id=b.id, title="Fork")
    assert session.scalar(select(func.count()).select_from(Node)) == before
    append_node(session, user_id=ann, story_id=fork.id, text="D.")
    assert load_story(session, user_id=ann, story_id=fork.id).text == "A. B. D."
    assert load_story(session, user_id=ann, story_id=story.id).text == "A. B. C."
    add_sibling(session, user_id=ann, story_id=fork.id, node_id=a.id, text="A2.")
    assert load_story(session, user_id=ann, story_id=fork.id).text == "A2."
    choose_node(session, user_id=ann, story_id=fork.id, node_id=b.id)
    assert load_story(session, user_id=ann, story_id=fork.id).text == "A. B."
    with pytest.raises(InvalidInput):
        choose_node(session, user_id=ann, story_id=fork.id, node_id=_c.id)


def test_list_delete_restore(session, users):
    ann = users["ann"]
    keep = create_story(session, user_id=ann, title="Keep")
    _write(session, ann, keep.id, "A.", "B.")
    gone = create_story(session, user_id=ann, title="Gone")
    create_story(session, user_id=users["bob"], title="Bob's")
    assert {s.title for s in list_stories(session, user_id=ann)} == {"Keep", "Gone"}
    delete_story(session, user_id=ann, story_id=gone.id)
    listed = list_stories(session, user_id=ann)
    assert [(s.title, s.sentences) for s in listed] == [("Keep", 2)]
    with pytest.raises(NotFound):
        load_story(session, user_id=ann, story_id=gone.id)
    assert load_story(session, user_id=ann, story_id=gone.id, include_deleted=True).deleted_at
    restore_story(session, user_id=ann, story_id=gone.id)
    assert {s.title for s in list_stories(session, user_id=ann)} == {"Keep", "Gone"}
    with pytest.raises(Conflict):
        restore_story(session, user_id=ann, story_id=gone.id)


def test_another_users_story_is_refused(session, users):
    story = create_story(session, user_id=users["ann"])
    node = append_node(session, user_id=users["ann"], story_id=story.id, text="Mine.")
    bob = users["bob"]
    calls = [
        lambda: load_story(session, user_id=bob, story_id=story.id),
        lambda: append_node(session, user_id=bob, story_id=story.id, text="Yours?"),
        lambda: add_sibling(session, user_id=bob, story_id=story.id, node_id=node.id, text="X."),
        lambda: undo(session, user_id=bob, story_id=story.id),
        lambda: fork_story(session, user_id=bob, story_id=story.id, node_id=node.id),
        lambda: delete_story(session, user_id=bob, story_id=story.id),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert load_story(session, user_id=users["ann"], story_id=story.id).text == "Mine."
    assert count_nodes(session, user_id=users["ann"], story_id=story.id) == 1

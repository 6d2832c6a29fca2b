"""Each story's memory and author's note: stored, validated, forked, exported and imported,
recorded per sentence, and added by m008 to databases that already hold stories; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from storage import (
    InvalidInput,
    PermissionDenied,
    Provenance,
    append_node,
    create_story,
    downgrade,
    export_json,
    fork_story,
    import_json,
    load_story,
    make_engine,
    make_sessionmaker,
    set_memory,
    upgrade,
)
from storage.validate import MAX_NOTE_DEPTH, MAX_TEXT

STEERING = {"memory": {"text": "Tom is a sailor.", "chars": 16}, "authors_note": {"text": "", "chars": 0},
            "note_depth": 2}


@pytest.fixture
def story_id(factory, users) -> int:
    with factory.begin() as session:
        return create_story(session, user_id=users["ann"], title="T", premise="Tom went out.").id


def _load(factory, user_id, story_id):
    with factory() as session:
        return load_story(session, user_id=user_id, story_id=story_id)


def test_a_new_story_has_no_memory_and_the_note_one_sentence_from_the_end(factory, users, story_id):
    view = _load(factory, users["ann"], story_id)
    assert (view.memory, view.authors_note, view.note_depth) == ("", "", 1)


def test_memory_and_a_100000_character_note_are_stored(factory, users, story_id):
    long_note = ("Keep it gloomy. " * 6_250)[:MAX_TEXT]
    with factory.begin() as session:
        set_memory(session, user_id=users["ann"], story_id=story_id, memory="Tom is a retired sailor.",
                   authors_note=long_note, note_depth=3)
    view = _load(factory, users["ann"], story_id)
    assert view.memory == "Tom is a retired sailor." and view.authors_note == long_note and view.note_depth == 3
    with factory.begin() as session:  # no depth: the depth stays
        set_memory(session, user_id=users["ann"], story_id=story_id, memory="", authors_note="Short.")
    view = _load(factory, users["ann"], story_id)
    assert (view.memory, view.authors_note, view.note_depth) == ("", "Short.", 3)


@pytest.mark.parametrize(("memory", "note", "depth", "message"), [
    ("x" * (MAX_TEXT + 1), "", None, "memory is 100,001 characters; the limit is 100,000"),
    ("", "a\x00b", None, "author's note contains a NUL byte"),
    ("", 42, None, "author's note must be a string"),
    ("", "", -1, f"whole number from 0 to {MAX_NOTE_DEPTH}"),
    ("", "", MAX_NOTE_DEPTH + 1, f"whole number from 0 to {MAX_NOTE_DEPTH}"),
    ("", "", True, "whole number"),
])
def test_bad_values_are_refused_and_the_stored_ones_kept(factory, users, story_id, memory, note, depth, message):
    with factory.begin() as session:
        set_memory(session, user_id=users["ann"], story_id=story_id, memory="Kept.", authors_note="Kept too.",
                   note_depth=2)
    with pytest.raises(InvalidInput, match=message), factory.begin() as session:
        set_memory(session, user_id=users["ann"], story_id=story_id, memory=memory, authors_note=note,
                   note_depth=depth)
    view = _load(factory, users["ann"], story_id)
    assert (view.memory, view.authors_note, view.note_depth) == ("Kept.", "Kept too.", 2)


def test_only_the_owner_sets_the_memory(factory, users, story_id):
    with pytest.raises(PermissionDenied), factory.begin() as session:
        set_memory(session, user_id=users["bob"], story_id=story_id, memory="Mine now.", authors_note="")
    assert _load(factory, users["ann"], story_id).memory == ""


def test_fork_export_and_import_carry_memory_note_and_each_sentences_record(factory, users, story_id):
    ann = users["ann"]
    with factory.begin() as session:
        set_memory(session, user_id=ann, story_id=story_id, memory="Tom is a sailor.", authors_note="Rain.",
                   note_depth=0)
        node = append_node(session, user_id=ann, story_id=story_id, text="He sailed.",
                           provenance=Provenance(source="generated", candidates=["He sailed."], chosen=0,
                                                 steering=STEERING))
        fork = fork_story(session, user_id=ann, story_id=story_id, node_id=node.id)
        document = export_json(session, user_id=ann, story_id=story_id)
    forked = _load(factory, ann, fork.id)
    assert (forked.memory, forked.authors_note, forked.note_depth) == ("Tom is a sailor.", "Rain.", 0)
    assert forked.nodes[0].provenance.steering == STEERING
    assert (document["memory"], document["authors_note"], document["note_depth"]) == ("Tom is a sailor.", "Rain.", 0)
    assert document["nodes"][0]["steering"] == STEERING
    with factory.begin() as session:
        copy = import_json(session, user_id=users["bob"], document=document)
        assert export_json(session, user_id=users["bob"], story_id=copy.id)["memory"] == "Tom is a sailor."
    imported = _load(factory, users["bob"], copy.id)
    assert (imported.memory, imported.authors_note, imported.note_depth) == ("Tom is a sailor.", "Rain.", 0)
    assert imported.nodes[0].provenance.steering == STEERING


def test_import_of_an_older_document_and_of_a_bad_one(factory, users, story_id):
    with factory() as session:
        document = export_json(session, user_id=users["ann"], story_id=story_id)
    for key in ("memory", "authors_note", "note_depth"):
        del document[key]
    with factory.begin() as session:  # written before memory existed: none, note depth 1
        old = import_json(session, user_id=users["ann"], document=document)
    view = _load(factory, users["ann"], old.id)
    assert (view.memory, view.authors_note, view.note_depth) == ("", "", 1)
    with pytest.raises(InvalidInput, match="note depth"), factory.begin() as session:
        import_json(session, user_id=users["ann"], document={**document, "note_depth": "deep"})
    with pytest.raises(InvalidInput, match="steering"), factory.begin() as session:
        bad = {**document, "nodes": [{"ref": 1, "parent": None, "position": 0, "text": "x", "source": "typed",
                                      "steering": "a string", "created_at": document["created_at"]}]}
        import_json(session, user_id=users["ann"], document=bad)


def test_upgrade_from_m007_keeps_stories_and_adds_memory(db_url):
    """Rows written as the m007 schema had them read back with no memory; the new columns
    take values; a downgrade to m007 drops them and keeps the rows."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m007_token_choices")
    when = "'2026-12-01 10:00:00+00:00'"
    with engine.begin() as connection:
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1001, 'ann', 'writer', NULL, {when})",
            "INSERT INTO stories (id, owner_id, title, premise, settings, redo_stack, created_at, updated_at) "
            f"VALUES (1001, 1001, 'Old', 'Before.', '{{}}', '[]', {when}, {when})",
            "INSERT INTO nodes (id, story_id, parent_id, position, text, source, keywords, keywords_source, facts, "
            "candidates, chosen, params, seed, model, timings_ms, notes, backend, tokens, created_at) VALUES (1001, "
            f"1001, NULL, 0, 'One.', 'typed', '[]', '', '[]', '[]', NULL, '{{}}', NULL, '', '{{}}', '[]', '{{}}', '[]', {when})",
            "UPDATE stories SET head_node_id = 1001 WHERE id = 1001",
        ):
            connection.exec_driver_sql(statement)
    assert upgrade(engine=engine) == "m012_coherence"
    factory = make_sessionmaker(engine)
    view = _load(factory, 1001, 1001)
    assert (view.title, view.memory, view.authors_note, view.note_depth) == ("Old", "", "", 1)
    assert [n.text for n in view.nodes] == ["One."] and view.nodes[0].provenance.steering == {}
    with factory.begin() as session:
        set_memory(session, user_id=1001, story_id=1001, memory="Ann is tired.", authors_note="Calm.", note_depth=4)
        append_node(session, user_id=1001, story_id=1001, text="Two.",
                    provenance=Provenance(source="generated", candidates=["Two."], chosen=0, steering=STEERING))
    view = _load(factory, 1001, 1001)
    assert (view.memory, view.authors_note, view.note_depth) == ("Ann is tired.", "Calm.", 4)
    assert view.nodes[1].provenance.steering == STEERING
    assert downgrade(engine=engine, revision="m007_token_choices") == "m007_token_choices"
    assert "memory" not in {c["name"] for c in inspect(engine).get_columns("stories")}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM nodes WHERE story_id = 1001").scalar() == 2
    engine.dispose()

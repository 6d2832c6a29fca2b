"""Each story's storyline (its plan of keywords per sentence): stored, validated, forked,
exported and imported, and added by m011 to databases that already hold stories; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from storage import (
    InvalidInput,
    PermissionDenied,
    append_node,
    create_story,
    downgrade,
    export_json,
    fork_story,
    import_json,
    load_story,
    make_engine,
    make_sessionmaker,
    set_storyline,
    upgrade,
)
from storage.validate import MAX_STORYLINE_SLOTS

PLAN = {"slots": [["phone", "battery"], ["store"], [], ["happy"]], "source": "chain"}


@pytest.fixture
def story_id(factory, users) -> int:
    with factory.begin() as session:
        return create_story(session, user_id=users["ann"], title="T", premise="Tom went out.").id


def _load(factory, user_id, story_id):
    with factory() as session:
        return load_story(session, user_id=user_id, story_id=story_id)


def test_a_new_story_has_no_plan_and_a_plan_reads_back(factory, users, story_id):
    assert _load(factory, users["ann"], story_id).storyline == {}
    with factory.begin() as session:
        set_storyline(session, user_id=users["ann"], story_id=story_id, storyline=PLAN)
    assert _load(factory, users["ann"], story_id).storyline == PLAN
    with factory.begin() as session:
        set_storyline(session, user_id=users["ann"], story_id=story_id, storyline={})
    assert _load(factory, users["ann"], story_id).storyline == {}


@pytest.mark.parametrize("bad, message", [
    ({"slots": "phone"}, "slots must be a list"),
    ({"slots": [["x"]] * (MAX_STORYLINE_SLOTS + 1)}, "at most 1,000 slots"),
    ({"slots": [[1]]}, "keyword"),
    ({"slots": [["a\x00b"]]}, "NUL byte"),
    ("a plan", "storyline"),
])
def test_a_bad_plan_is_refused_and_the_old_one_kept(factory, users, story_id, bad, message):
    with factory.begin() as session:
        set_storyline(session, user_id=users["ann"], story_id=story_id, storyline=PLAN)
    with pytest.raises(InvalidInput, match=message), factory.begin() as session:
        set_storyline(session, user_id=users["ann"], story_id=story_id, storyline=bad)
    assert _load(factory, users["ann"], story_id).storyline == PLAN


def test_only_the_owner_sets_the_plan(factory, users, story_id):
    with pytest.raises(PermissionDenied), factory.begin() as session:
        set_storyline(session, user_id=users["bob"], story_id=story_id, storyline=PLAN)


def test_forks_exports_and_imports_carry_the_plan(factory, users, story_id):
    with factory.begin() as session:
        set_storyline(session, user_id=users["ann"], story_id=story_id, storyline=PLAN)
        node = append_node(session, user_id=users["ann"], story_id=story_id, text="One.")
        fork = fork_story(session, user_id=users["ann"], story_id=story_id, node_id=node.id).id
        document = export_json(session, user_id=users["ann"], story_id=story_id)
    assert _load(factory, users["ann"], fork).storyline == PLAN
    assert document["storyline"] == PLAN
    with factory.begin() as session:
        copy = import_json(session, user_id=users["bob"], document=document).id
        old = import_json(session, user_id=users["bob"], document={k: v for k, v in document.items() if k != "storyline"}).id
    assert _load(factory, users["bob"], copy).storyline == PLAN
    assert _load(factory, users["bob"], old).storyline == {}  # a document from before plans existed
    with pytest.raises(InvalidInput, match="slots"), factory.begin() as session:
        import_json(session, user_id=users["bob"], document={**document, "storyline": {"slots": 3}})


def test_upgrade_from_m010_keeps_stories_and_adds_the_plan(db_url):
    """A story written as the m010 schema had it reads back with no plan; a plan can be set; a
    downgrade to m010 drops the column and keeps the story and its sentences."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m010_one_undo_store")
    when = "'2026-12-01 10:00:00+00:00'"
    with engine.begin() as connection:
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1001, 'ann', 'writer', NULL, {when})",
            "INSERT INTO stories (id, owner_id, title, premise, settings, created_at, updated_at, memory, authors_note, "
            f"note_depth) VALUES (1001, 1001, 'Old', 'Before.', '{{}}', {when}, {when}, 'M.', '', 1)",
            "INSERT INTO nodes (id, story_id, parent_id, position, text, source, keywords, keywords_source, facts, "
            "candidates, chosen, params, seed, model, timings_ms, notes, backend, tokens, steering, created_at) VALUES "
            "(1001, 1001, NULL, 0, 'One.', 'typed', '[\"one\"]', '', '[]', '[]', NULL, '{}', NULL, '', '{}', '[]', "
            f"'{{}}', '[]', '{{}}', {when})",
            "UPDATE stories SET head_node_id = 1001 WHERE id = 1001",
        ):
            connection.exec_driver_sql(statement)
    assert upgrade(engine=engine) == "m012_coherence"
    factory = make_sessionmaker(engine)
    view = _load(factory, 1001, 1001)
    assert (view.title, view.memory, view.storyline) == ("Old", "M.", {})
    assert [n.text for n in view.nodes] == ["One."] and view.nodes[0].provenance.keywords == ["one"]
    with factory.begin() as session:
        set_storyline(session, user_id=1001, story_id=1001, storyline=PLAN)
    assert _load(factory, 1001, 1001).storyline == PLAN
    assert downgrade(engine=engine, revision="m010_one_undo_store") == "m010_one_undo_store"
    assert "storyline" not in {c["name"] for c in inspect(engine).get_columns("stories")}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM nodes WHERE story_id = 1001").scalar() == 1
    engine.dispose()

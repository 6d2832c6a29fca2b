"""State that several app processes share through the database: undo moves, writing
leases, login sessions and settings; on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import inspect

from storage import (
    acquire_lease,
    append_node,
    create_story,
    drop_login,
    forget_redo,
    login_digests,
    login_name,
    make_engine,
    make_sessionmaker,
    record_move,
    redo_move,
    release_lease,
    renew_lease,
    save_login,
    shared_setting,
    token_digest,
    undo_move,
    upgrade,
)
from storage.undo_moves import KEEP_MOVES


@pytest.fixture
def story_id(factory, users) -> int:
    with factory.begin() as session:
        return create_story(session, user_id=users["ann"], title="T", premise="P.").id


def test_undo_and_redo_moves_behave_as_a_stack(factory, story_id):
    with factory.begin() as session:
        record_move(session, story_id=story_id, before=1, after=2)
        record_move(session, story_id=story_id, before=2, after=3)
    with factory.begin() as session:  # a new transaction, as another process would see it
        assert undo_move(session, story_id=story_id, head=2) is None  # the story does not end where the move left it
        assert undo_move(session, story_id=story_id, head=3) == 2
        assert undo_move(session, story_id=story_id, head=2) == 1
        assert undo_move(session, story_id=story_id, head=1) is None  # nothing older
    with factory.begin() as session:
        assert redo_move(session, story_id=story_id, head=1) == 2
        assert redo_move(session, story_id=story_id, head=2) == 3
        assert redo_move(session, story_id=story_id, head=3) is None
        assert undo_move(session, story_id=story_id, head=3) == 2
        record_move(session, story_id=story_id, before=2, after=4)  # a new change ends redo
        assert redo_move(session, story_id=story_id, head=4) is None
        assert undo_move(session, story_id=story_id, head=4) == 2
        forget_redo(session, story_id=story_id)
        assert redo_move(session, story_id=story_id, head=2) is None


def test_old_moves_are_forgotten_beyond_the_limit(factory, story_id):
    with factory.begin() as session:
        for i in range(KEEP_MOVES + 5):
            record_move(session, story_id=story_id, before=i, after=i + 1)
    with factory.begin() as session:
        head, undone = KEEP_MOVES + 5, 0
        while (before := undo_move(session, story_id=story_id, head=head)) is not None:
            head, undone = before, undone + 1
        assert undone == KEEP_MOVES and head == 5


def test_a_lease_refuses_a_second_holder_until_released_or_expired(factory, story_id):
    with factory.begin() as session:
        assert acquire_lease(session, story_id=story_id, holder="a", ttl_s=30)
    with factory.begin() as session:
        assert not acquire_lease(session, story_id=story_id, holder="b", ttl_s=30)
        assert renew_lease(session, story_id=story_id, holder="a", ttl_s=30)
        assert not renew_lease(session, story_id=story_id, holder="b", ttl_s=30)
        release_lease(session, story_id=story_id, holder="b")  # not b's to give back
    with factory.begin() as session:
        assert not acquire_lease(session, story_id=story_id, holder="b", ttl_s=30)
        release_lease(session, story_id=story_id, holder="a")
    with factory.begin() as session:
        assert acquire_lease(session, story_id=story_id, holder="b", ttl_s=0.2)
    time.sleep(0.4)  # b's process died without giving it back: the lease runs out
    with factory.begin() as session:
        assert acquire_lease(session, story_id=story_id, holder="c", ttl_s=30)
        assert not renew_lease(session, story_id=story_id, holder="b", ttl_s=30)


def test_logins_are_kept_as_digests_and_run_out(factory):
    with factory.begin() as session:
        save_login(session, token="tok-1", user_name="ann")
        save_login(session, token="tok-2", user_name="ann", days=-1)  # already expired
    with factory.begin() as session:
        assert login_name(session, token_hash=token_digest("tok-1")) == "ann"
        assert login_name(session, token_hash=token_digest("tok-2")) is None
        assert login_digests(session) == [token_digest("tok-1")]
        assert "tok-1" not in login_digests(session)  # never the token itself
        drop_login(session, token_hash=token_digest("tok-1"))
    with factory.begin() as session:
        assert login_name(session, token_hash=token_digest("tok-1")) is None


def test_a_shared_setting_is_made_once(factory):
    made = iter(["first", "second"])
    with factory.begin() as session:
        assert shared_setting(session, key="cookie", make=lambda: next(made)) == "first"
    with factory.begin() as session:
        assert shared_setting(session, key="cookie", make=lambda: next(made)) == "first"


def test_upgrade_from_m005_keeps_stories_and_adds_the_shared_tables(db_url):
    """A story written as the m005 schema had it, then m006 (shared state), m007 (tokens) and m008 (memory)."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m005_backend")
    when = "'2026-12-01 10:00:00+00:00'"
    with engine.begin() as connection:  # rows written as the m005 schema had them
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1001, 'ann', 'writer', NULL, {when})",
            "INSERT INTO stories (id, owner_id, title, premise, settings, redo_stack, created_at, updated_at) "
            f"VALUES (1001, 1001, 'Old', 'Before.', '{{}}', '[]', {when}, {when})",
            "INSERT INTO nodes (id, story_id, parent_id, position, text, source, keywords, keywords_source, facts, "
            "candidates, chosen, params, seed, model, timings_ms, notes, backend, created_at) VALUES (1001, 1001, NULL, 0, "
            f"'One.', 'typed', '[]', '', '[]', '[]', NULL, '{{}}', NULL, '', '{{}}', '[]', '{{}}', {when})",
            "UPDATE stories SET head_node_id = 1001 WHERE id = 1001",
        ):
            connection.exec_driver_sql(statement)
    assert "head_moves" not in inspect(engine).get_table_names()
    assert upgrade(engine=engine, revision="m006_shared_state") == "m006_shared_state"
    assert {"head_moves", "writing_leases", "login_sessions", "app_settings"} <= set(inspect(engine).get_table_names())
    assert upgrade(engine=engine) == "m012_coherence"
    from storage import Provenance, load_story

    factory = make_sessionmaker(engine)
    token = {"id": 7, "text": " rain", "prob": 0.25, "alternatives": [{"id": 8, "text": " sun", "prob": 0.5}]}
    with factory.begin() as session:
        record_move(session, story_id=1001, before=None, after=1001)
        assert acquire_lease(session, story_id=1001, holder="a", ttl_s=30)
        append_node(session, user_id=1001, story_id=1001, text="Rain fell.",
                    provenance=Provenance(source="generated", candidates=["Rain fell."], chosen=0, tokens=[[token]]))
    with factory.begin() as session:
        nodes = load_story(session, user_id=1001, story_id=1001).nodes
        assert [n.text for n in nodes] == ["One.", "Rain fell."]
        assert nodes[0].provenance.tokens == [] and nodes[1].provenance.tokens == [[token]]
    engine.dispose()

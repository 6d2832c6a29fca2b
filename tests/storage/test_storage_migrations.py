"""Migrations: they agree with the models, and upgrading keeps existing data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import storage.study_models  # noqa: F401  (the evaluation tables are part of the metadata)
from storage import (
    Base,
    Provenance,
    add_items,
    add_sibling,
    append_node,
    assign_items,
    authenticate,
    create_story,
    create_study,
    create_user,
    current_revision,
    downgrade,
    head_revision,
    load_story,
    make_engine,
    make_sessionmaker,
    redo,
    submit_rating,
    undo,
    upgrade,
)

REPO = Path(__file__).resolve().parents[2]


def _diff(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_autogenerate_finds_no_difference(db_url):
    engine = make_engine(db_url)
    assert upgrade(engine=engine, revision="m001_initial") == "m001_initial"
    assert _diff(engine), "the comparison must see the tables m002 adds"
    assert upgrade(engine=engine) == head_revision() == "m012_coherence"
    assert _diff(engine) == []
    engine.dispose()


def test_upgrade_from_first_revision_keeps_data(db_url):
    """Stories written, the schema taken down to m001 (as an old install has it), then up to head."""
    engine = make_engine(db_url)
    upgrade(engine=engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        ann = create_user(session, name="ann", password="secret").id
        story = create_story(session, user_id=ann, title="Old", premise="Before the upgrade.")
        first = append_node(
            session,
            user_id=ann,
            story_id=story.id,
            text="One.",
            provenance=Provenance(
                source="generated", keywords=["one"], seed=11, facts=[{"text": "f", "score": 0.25}]
            ),
        )
        add_sibling(session, user_id=ann, story_id=story.id, node_id=first.id, text="Uno.")
        story_id = story.id
    with factory() as session:
        before = load_story(session, user_id=ann, story_id=story_id)
    assert downgrade(engine=engine, revision="m001_initial") == "m001_initial"
    assert "ratings" not in inspect(engine).get_table_names()
    assert "disabled_at" not in {c["name"] for c in inspect(engine).get_columns("users")}

    assert upgrade(engine=engine) == "m012_coherence"
    with factory.begin() as session:
        after = load_story(session, user_id=ann, story_id=story_id)
        assert after == before and after.text == "Uno."
        assert after.nodes[0].sibling_ids[0] == first.id
        assert authenticate(session, name="ann", password="secret").id == ann
        study = create_study(session, name="S", kind="control", criteria=["follows"])
        (item,) = add_items(session, study_id=study.id, items=[{"payload": {"s": "x"}}])
        assign_items(session, study_id=study.id, rater_ids=[ann])
        assert submit_rating(
            session, rater_id=ann, item_id=item.id, criterion="follows", value="yes"
        ).id
    engine.dispose()


def test_upgrade_from_studies_keeps_accounts_studies_and_ratings(db_url):
    """m002 -> m003 adds the disabled, closed and released columns without touching any row."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m002_studies")
    assert "closed_at" not in {c["name"] for c in inspect(engine).get_columns("studies")}
    when = "'2026-11-30 10:00:00+00:00'"
    with engine.begin() as connection:  # rows written as the m002 schema had them
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'ann', 'rater', NULL, {when})",
            "INSERT INTO studies (id, owner_id, name, kind, criteria, overlap_k, instructions, attention_rate, "
            f"settings, created_at) VALUES (1, NULL, 'S', 'control', '[\"follows\"]', 1, '', 0.0, '{{}}', {when})",
            "INSERT INTO study_items (id, study_id, ordinal, payload, hidden, is_attention_check, expected, "
            f"created_at) VALUES (1, 1, 1, '{{}}', '{{}}', false, NULL, {when})",
            "INSERT INTO assignments (id, study_id, item_id, rater_id, order_index, time_spent_ms, assigned_at, "
            f"completed_at) VALUES (1, 1, 1, 1, 1, 0, {when}, NULL)",
        ):
            connection.exec_driver_sql(statement)
    assert upgrade(engine=engine, revision="m003_accounts_leases") == "m003_accounts_leases"
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        assert submit_rating(session, rater_id=1, item_id=1, criterion="follows", value="yes").id
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT a.released_at, a.completed_at, s.closed_at, u.disabled_at, u.name FROM assignments a "
            "JOIN studies s ON s.id = a.study_id JOIN users u ON u.id = a.rater_id"
        ).one()
    assert row[0] is None and row[1] is not None and row[2] is None and row[3] is None and row[4] == "ann"
    assert downgrade(engine=engine, revision="m002_studies") == "m002_studies"
    assert "released_at" not in {c["name"] for c in inspect(engine).get_columns("assignments")}
    engine.dispose()


def test_downgrade_and_upgrade_again(db_url):
    engine = make_engine(db_url)
    upgrade(engine=engine)
    assert downgrade(engine=engine, revision="base") == "base"
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert upgrade(engine=engine) == "m012_coherence"
    engine.dispose()


def test_command_line_upgrades_the_given_database(tmp_path):
    db = tmp_path / "cli.db"
    run = [sys.executable, "-m", "storage", "--db", f"sqlite:///{db}"]
    up = subprocess.run([*run, "upgrade"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "at m012_coherence" in up.stdout
    engine = make_engine(f"sqlite:///{db}")
    assert current_revision(engine) == head_revision()
    assert {"nodes", "ratings"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_upgrade_to_one_undo_store_keeps_redo_and_undo(db_url):
    """A story as m009 kept it (a redo stack of two sentences taken back, and a regenerate recorded
    as a head move) undoes and redoes the same after m010 folds the stack into head_moves; a
    downgrade to m009 gives the stack back."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m009_bible_ratings")
    when = "'2026-12-01 10:00:00+00:00'"
    node = ("INSERT INTO nodes (id, story_id, parent_id, position, text, source, keywords, keywords_source, facts, "
            "candidates, chosen, params, seed, model, timings_ms, notes, backend, tokens, steering, created_at) "
            "VALUES ({id}, 1001, {parent}, {position}, '{text}', 'typed', '[]', '', '[]', '[]', NULL, '{{}}', NULL, "
            "'', '{{}}', '[]', '{{}}', '[]', '{{}}', {when})").replace("{when}", when)
    with engine.begin() as connection:  # A. B2. (B2 replaced B), then C. and D. were taken back by undo
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1001, 'ann', 'writer', NULL, {when})",
            "INSERT INTO stories (id, owner_id, title, premise, settings, redo_stack, created_at, updated_at, memory, "
            f"authors_note, note_depth) VALUES (1001, 1001, 'Old', 'P.', '{{}}', '[1005, 1004]', {when}, {when}, "
            "'', '', 1)",
            node.format(id=1001, parent="NULL", position=0, text="A."),
            node.format(id=1002, parent=1001, position=1, text="B."),
            node.format(id=1003, parent=1001, position=1, text="B2."),
            node.format(id=1004, parent=1003, position=2, text="C."),
            node.format(id=1005, parent=1004, position=3, text="D."),
            "UPDATE stories SET head_node_id = 1003 WHERE id = 1001",
            "INSERT INTO head_moves (story_id, before_node_id, after_node_id, undone, created_at) "
            f"VALUES (1001, 1002, 1003, false, {when})",
        ):
            connection.exec_driver_sql(statement)
    assert upgrade(engine=engine) == "m012_coherence"
    assert "redo_stack" not in {c["name"] for c in inspect(engine).get_columns("stories")}
    assert downgrade(engine=engine, revision="m009_bible_ratings") == "m009_bible_ratings"
    with engine.connect() as connection:
        stack = connection.exec_driver_sql("SELECT redo_stack FROM stories WHERE id = 1001").scalar()
        moves = connection.exec_driver_sql("SELECT before_node_id, after_node_id FROM head_moves").all()
    assert (json.loads(stack) if isinstance(stack, str) else stack) == [1005, 1004]
    assert [tuple(m) for m in moves] == [(1002, 1003)]  # the regenerate stays a move; the steps back are the stack again
    assert upgrade(engine=engine) == "m012_coherence"
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        assert load_story(session, user_id=1001, story_id=1001).can_redo
        assert [redo(session, user_id=1001, story_id=1001).id for _ in range(2)] == [1004, 1005]
        assert load_story(session, user_id=1001, story_id=1001).text == "A. B2. C. D."
        assert [undo(session, user_id=1001, story_id=1001).id for _ in range(2)] == [1004, 1003]
        assert redo(session, user_id=1001, story_id=1001).id == 1004
    with factory.begin() as session:
        undo(session, user_id=1001, story_id=1001)
        undo(session, user_id=1001, story_id=1001)  # the recorded regenerate: B. again, not one sentence less
        assert load_story(session, user_id=1001, story_id=1001).text == "A. B."
        assert redo(session, user_id=1001, story_id=1001).id == 1003
    engine.dispose()


def test_upgrade_from_storyline_keeps_sentences_and_adds_coherence(db_url):
    """A sentence written as the m011 schema had it reads back with no coherence scores; a reranked
    one keeps its scores; a downgrade to m011 drops the column and keeps both sentences."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m011_storyline")
    assert "coherence" not in {c["name"] for c in inspect(engine).get_columns("nodes")}
    when = "'2026-12-01 10:00:00+00:00'"
    with engine.begin() as connection:
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1001, 'ann', 'writer', NULL, {when})",
            "INSERT INTO stories (id, owner_id, title, premise, settings, created_at, updated_at, memory, authors_note, "
            f"note_depth, storyline) VALUES (1001, 1001, 'Old', 'Before.', '{{}}', {when}, {when}, '', '', 1, '{{}}')",
            "INSERT INTO nodes (id, story_id, parent_id, position, text, source, keywords, keywords_source, facts, "
            "candidates, chosen, params, seed, model, timings_ms, notes, backend, tokens, steering, created_at) VALUES "
            "(1001, 1001, NULL, 0, 'One.', 'generated', '[\"one\"]', 'given', '[]', '[\"One.\", \"Uno.\"]', 0, '{}', "
            f"7, 'tiny', '{{}}', '[]', '{{}}', '[]', '{{}}', {when})",
            "UPDATE stories SET head_node_id = 1001 WHERE id = 1001",
        ):
            connection.exec_driver_sql(statement)
    assert upgrade(engine=engine) == "m012_coherence"
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        old = load_story(session, user_id=1001, story_id=1001).nodes[0].provenance
        assert (old.candidates, old.seed, old.coherence) == (["One.", "Uno."], 7, [])
        append_node(session, user_id=1001, story_id=1001, text="Two.", provenance=Provenance(
            source="generated", candidates=["Two.", "Dos.", "Deux."], chosen=0, coherence=[0.81, 0.25, 0.5]))
    with factory() as session:
        nodes = load_story(session, user_id=1001, story_id=1001).nodes
    assert [n.text for n in nodes] == ["One.", "Two."] and nodes[1].provenance.coherence == [0.81, 0.25, 0.5]
    assert downgrade(engine=engine, revision="m011_storyline") == "m011_storyline"
    assert "coherence" not in {c["name"] for c in inspect(engine).get_columns("nodes")}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM nodes WHERE story_id = 1001").scalar() == 2
    engine.dispose()

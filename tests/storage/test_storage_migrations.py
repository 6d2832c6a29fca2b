"""Migrations: they agree with the models, and upgrading keeps existing data."""

from __future__ import annotations

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
    submit_rating,
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
    assert upgrade(engine=engine) == head_revision() == "m002_studies"
    assert _diff(engine) == []
    engine.dispose()


def test_upgrade_from_first_revision_keeps_data(db_url):
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m001_initial")
    assert "ratings" not in inspect(engine).get_table_names()
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

    assert upgrade(engine=engine) == "m002_studies"
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


def test_downgrade_and_upgrade_again(db_url):
    engine = make_engine(db_url)
    upgrade(engine=engine)
    assert downgrade(engine=engine, revision="base") == "base"
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert upgrade(engine=engine) == "m002_studies"
    engine.dispose()


def test_command_line_upgrades_the_given_database(tmp_path):
    db = tmp_path / "cli.db"
    run = [sys.executable, "-m", "storage", "--db", f"sqlite:///{db}"]
    up = subprocess.run([*run, "upgrade"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "at m002_studies" in up.stdout
    engine = make_engine(f"sqlite:///{db}")
    assert current_revision(engine) == head_revision()
    assert {"nodes", "ratings"} <= set(inspect(engine).get_table_names())
    engine.dispose()

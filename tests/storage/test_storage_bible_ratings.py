"""The story bible and sentence ratings in storage: stored, validated, versioned, forked, exported
and imported, rated on any version, turned into preference pairs, and added by m009 to databases
that already hold stories; on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, inspect

from storage import (
    MAX_ENTRIES,
    EntryInput,
    InvalidInput,
    NotFound,
    Provenance,
    add_entry,
    add_sibling,
    append_node,
    create_story,
    delete_entry,
    delete_story,
    downgrade,
    export_json,
    fork_story,
    import_json,
    list_entries,
    list_stories,
    load_story,
    make_engine,
    make_sessionmaker,
    preference_pairs,
    rate_node,
    update_entry,
    upgrade,
)
from storage.models import BibleEntry, utcnow

MARA = EntryInput.checked("Mara", "Mara, fisherwoman", "Mara is blind and reads by touch.")


@pytest.fixture
def story_id(factory, users) -> int:
    with factory.begin() as session:
        return create_story(session, user_id=users["ann"], title="T", premise="Mara went out.").id


def _load(factory, user_id, story_id):
    with factory() as session:
        return load_story(session, user_id=user_id, story_id=story_id)


def _two_versions(factory, user_id, story_id) -> tuple[int, int]:
    """A first sentence written twice: (old version, new version)."""
    with factory.begin() as session:
        old = append_node(session, user_id=user_id, story_id=story_id, text="She saw the sea.",
                          provenance=Provenance(source="generated", keywords=["sea"], candidates=["She saw the sea."],
                                                chosen=0, facts=[{"text": "Mara is blind.", "source": "bible", "entry": 1}]))
        new = add_sibling(session, user_id=user_id, story_id=story_id, node_id=old.id, text="She smelled the sea.",
                          provenance=Provenance(source="typed"))
        return old.id, new.id


def test_keys_are_trimmed_and_kept_once_and_any_script_is_accepted():
    entry = EntryInput.checked("  Li  Wei ", " 李伟 , li wei, Li Wei,, Ωmega, ", "李伟 is a baker.")
    assert entry.name == "Li Wei" and entry.keys == ["李伟", "li wei", "Ωmega"]
    assert EntryInput.checked("Rule", "", "No magic.", always=True).keys == []


@pytest.mark.parametrize(("args", "message"), [
    (("Mara", " , ", "Mara is blind."), "has no keys"),
    (("", "mara", "Mara is blind."), "needs a name"),
    (("Mara", "mara", "   "), "needs a text"),
    (("Mara", "x" * 101, "Mara is blind."), "longer than 100"),
    (("Mara", ",".join(f"k{i}" for i in range(40)), "Mara is blind."), "at most 32"),
    (("Mara", "mara", "t" * 5_001), "5,000"),
    (("Mara", 7, "Mara is blind."), "keys must be"),
])
def test_a_bad_entry_is_refused_with_its_reason(args, message):
    with pytest.raises(InvalidInput, match=message):
        EntryInput.checked(*args)


def test_entries_are_added_edited_with_history_and_deleted(factory, users, story_id):
    ann = users["ann"]
    with factory.begin() as session:
        entry_id = add_entry(session, user_id=ann, story_id=story_id, entry=MARA).id
    with factory.begin() as session:
        update_entry(session, user_id=ann, story_id=story_id, entry_id=entry_id,
                     entry=EntryInput.checked("Mara", "Mara", "Mara is blind; her dog Biscuit guides her."))
    view = _load(factory, ann, story_id)
    (entry,) = view.bible
    assert entry.text.endswith("guides her.") and entry.keys == ["Mara"] and entry.versions == 2
    with factory() as session:
        row = session.get(BibleEntry, entry_id)
        assert row.history[0]["text"] == MARA.text and row.history[0]["keys"] == ["Mara", "fisherwoman"]
    with factory.begin() as session:
        delete_entry(session, user_id=ann, story_id=story_id, entry_id=entry_id)
    assert _load(factory, ann, story_id).bible == ()
    with factory() as session:
        assert [e.id for e in list_entries(session, user_id=ann, story_id=story_id, include_deleted=True)] == [entry_id]
    with pytest.raises(InvalidInput, match="no bible entry"), factory.begin() as session:
        delete_entry(session, user_id=ann, story_id=story_id, entry_id=entry_id)


def test_another_writers_story_bible_cannot_be_read_or_written(factory, users, story_id):
    with pytest.raises(Exception, match="belongs to another user"), factory.begin() as session:
        add_entry(session, user_id=users["bob"], story_id=story_id, entry=MARA)
    with factory.begin() as session:
        entry_id = add_entry(session, user_id=users["ann"], story_id=story_id, entry=MARA).id
        other = create_story(session, user_id=users["ann"], title="U", premise="Other.").id
    with pytest.raises(InvalidInput, match="no bible entry"), factory.begin() as session:
        update_entry(session, user_id=users["ann"], story_id=other, entry_id=entry_id, entry=MARA)


def test_ten_thousand_entries_are_held_and_the_next_is_refused(factory, users, story_id):
    now = utcnow()
    with factory.begin() as session:
        session.execute(insert(BibleEntry), [
            {"story_id": story_id, "name": f"Person {i}", "keys": [f"key{i}"], "text": f"Person {i} is kind.",
             "always": False, "history": [], "created_at": now, "updated_at": now} for i in range(MAX_ENTRIES)])
    started = time.perf_counter()
    view = _load(factory, users["ann"], story_id)
    assert len(view.bible) == MAX_ENTRIES
    assert time.perf_counter() - started < 30  # loads, not hangs (the figure is in docs/app.md)
    with pytest.raises(InvalidInput, match="10,000 entries"), factory.begin() as session:
        add_entry(session, user_id=users["ann"], story_id=story_id, entry=MARA)
    assert len(_load(factory, users["ann"], story_id).bible) == MAX_ENTRIES


def test_a_fork_gets_its_own_copy_of_the_bible(factory, users, story_id):
    ann = users["ann"]
    old, _ = _two_versions(factory, ann, story_id)
    with factory.begin() as session:
        add_entry(session, user_id=ann, story_id=story_id, entry=MARA)
        fork = fork_story(session, user_id=ann, story_id=story_id, node_id=old).id
    (copied,) = _load(factory, ann, fork).bible
    with factory.begin() as session:
        update_entry(session, user_id=ann, story_id=fork, entry_id=copied.id,
                     entry=EntryInput.checked("Mara", "Mara", "Mara can see again."))
    assert _load(factory, ann, story_id).bible[0].text == MARA.text


def test_ratings_are_kept_per_version_and_writer_and_replaced_when_given_again(factory, users, story_id):
    ann = users["ann"]
    old, new = _two_versions(factory, ann, story_id)
    with factory.begin() as session:
        rate_node(session, user_id=ann, story_id=story_id, node_id=old, rating="down", reason="she is blind")
        rate_node(session, user_id=ann, story_id=story_id, node_id=new, rating="UP")
        rate_node(session, user_id=ann, story_id=story_id, node_id=new, rating="up", reason="  keeps   the bible ")
    ratings = _load(factory, ann, story_id).ratings
    assert [(r.rating, r.reason, r.user) for r in ratings[old]] == [("down", "she is blind", "ann")]
    assert [(r.rating, r.reason) for r in ratings[new]] == [("up", "keeps the bible")]
    with pytest.raises(InvalidInput, match="rating"), factory.begin() as session:
        rate_node(session, user_id=ann, story_id=story_id, node_id=old, rating="meh")
    with pytest.raises(InvalidInput, match="reason"), factory.begin() as session:
        rate_node(session, user_id=ann, story_id=story_id, node_id=old, rating="up", reason="x" * 501)


def test_a_version_of_a_deleted_story_or_of_another_story_cannot_be_rated(factory, users, story_id):
    ann = users["ann"]
    old, _ = _two_versions(factory, ann, story_id)
    with factory.begin() as session:
        other = create_story(session, user_id=ann, title="U", premise="Other.").id
    with pytest.raises(InvalidInput, match="not part of story"), factory.begin() as session:
        rate_node(session, user_id=ann, story_id=other, node_id=old, rating="up")
    with factory.begin() as session:
        delete_story(session, user_id=ann, story_id=story_id)
    with pytest.raises(NotFound), factory.begin() as session:
        rate_node(session, user_id=ann, story_id=story_id, node_id=old, rating="up")


def test_preference_pairs_pair_one_writers_up_and_down_siblings_in_their_context(factory, users, story_id):
    ann, bob = users["ann"], users["bob"]
    old, new = _two_versions(factory, ann, story_id)
    with factory.begin() as session:
        second = append_node(session, user_id=ann, story_id=story_id, text="The gulls cried.",
                             provenance=Provenance(source="typed"))
        rate_node(session, user_id=ann, story_id=story_id, node_id=old, rating="down", reason="she is blind")
        rate_node(session, user_id=ann, story_id=story_id, node_id=new, rating="up")
        rate_node(session, user_id=ann, story_id=story_id, node_id=second.id, rating="up")  # no sibling: no pair
        assert list(preference_pairs(session, user_id=bob)) == []
        (pair,) = preference_pairs(session)
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == ("Mara went out.", "She smelled the sea.",
                                                                  "She saw the sea.")
    assert pair["meta"]["rejected"]["reason"] == "she is blind"
    assert pair["meta"]["rejected"]["facts"] == [{"text": "Mara is blind.", "source": "bible", "entry": 1}]
    assert pair["meta"]["sentence"] == 1 and pair["meta"]["writer"] == "ann"


def test_the_bible_and_ratings_round_trip_through_json(factory, users, story_id):
    ann = users["ann"]
    old, new = _two_versions(factory, ann, story_id)
    with factory.begin() as session:
        add_entry(session, user_id=ann, story_id=story_id, entry=MARA)
        add_entry(session, user_id=ann, story_id=story_id,
                  entry=EntryInput.checked("Rule", "", "Nobody in town lies.", always=True))
        rate_node(session, user_id=ann, story_id=story_id, node_id=old, rating="down", reason="no")
        rate_node(session, user_id=ann, story_id=story_id, node_id=new, rating="up")
        document = export_json(session, user_id=ann, story_id=story_id)
    assert [e["name"] for e in document["bible"]] == ["Mara", "Rule"] and document["bible"][1]["always"]
    assert sorted((r["ref"], r["rating"]) for r in document["ratings"]) == [(1, "down"), (2, "up")]
    with factory.begin() as session:
        copy = import_json(session, user_id=users["bob"], document=document).id
    view = _load(factory, users["bob"], copy)
    assert [(e.name, e.keys, e.always) for e in view.bible] == [("Mara", ["Mara", "fisherwoman"], False),
                                                               ("Rule", [], True)]
    assert sorted(r.rating for rs in view.ratings.values() for r in rs) == ["down", "up"]
    with factory() as session:
        again = export_json(session, user_id=users["bob"], story_id=copy)
    assert [(e["name"], e["text"]) for e in again["bible"]] == [(e["name"], e["text"]) for e in document["bible"]]


@pytest.mark.parametrize(("bible", "message"), [
    ([{"name": "Mara", "keys": "", "text": "Mara is blind."}], "bible entry 1: .*no keys"),
    ([{"name": "Mara", "keys": "mara", "text": "ok"}, "not an object"], "bible entry 2 must be an object"),
    ({"name": "Mara"}, "bible"),
    ([{"name": "Mara", "keys": "mara", "text": "ok", "always": "yes"}], "always"),
])
def test_an_import_whose_bible_does_not_validate_writes_nothing(factory, users, story_id, bible, message):
    with factory() as session:
        document = export_json(session, user_id=users["ann"], story_id=story_id)
    with factory() as session:
        before = len(session.query(BibleEntry).all()), len(list_stories(
            session, user_id=users["bob"]))
    with pytest.raises(InvalidInput, match=message), factory.begin() as session:
        import_json(session, user_id=users["bob"], document={**document, "bible": bible})
    with factory() as session:
        after = len(session.query(BibleEntry).all()), len(list_stories(
            session, user_id=users["bob"]))
    assert after == before


def test_an_import_with_ratings_of_unknown_nodes_is_refused(factory, users, story_id):
    with factory() as session:
        document = export_json(session, user_id=users["ann"], story_id=story_id)
    bad = {**document, "ratings": [{"ref": 9, "rating": "up", "reason": "", "at": document["created_at"]}]}
    with pytest.raises(InvalidInput, match="rating 1"), factory.begin() as session:
        import_json(session, user_id=users["bob"], document=bad)


def test_upgrade_from_m008_keeps_stories_and_adds_bible_and_ratings(db_url):
    """Rows written as the m008 schema had them read back with an empty bible and no ratings;
    the new tables take rows; a downgrade to m008 drops them and keeps the stories."""
    engine = make_engine(db_url)
    upgrade(engine=engine, revision="m008_memory")
    when = "'2026-12-01 10:00:00+00:00'"
    with engine.begin() as connection:
        for statement in (
            f"INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1001, 'ann', 'writer', NULL, {when})",
            "INSERT INTO stories (id, owner_id, title, premise, settings, redo_stack, created_at, updated_at, memory, "
            f"authors_note, note_depth) VALUES (1001, 1001, 'Old', 'Before.', '{{}}', '[]', {when}, {when}, 'M', '', 1)",
            "INSERT INTO nodes (id, story_id, parent_id, position, text, source, keywords, keywords_source, facts, "
            "candidates, chosen, params, seed, model, timings_ms, notes, backend, tokens, steering, created_at) VALUES "
            f"(1001, 1001, NULL, 0, 'One.', 'typed', '[]', '', '[]', '[]', NULL, '{{}}', NULL, '', '{{}}', '[]', '{{}}', "
            f"'[]', '{{}}', {when})",
            "UPDATE stories SET head_node_id = 1001 WHERE id = 1001",
        ):
            connection.exec_driver_sql(statement)
    assert upgrade(engine=engine) == "m012_coherence"
    factory = make_sessionmaker(engine)
    view = _load(factory, 1001, 1001)
    assert (view.title, view.memory, view.bible, view.ratings) == ("Old", "M", (), {})
    with factory.begin() as session:
        add_entry(session, user_id=1001, story_id=1001, entry=MARA)
        rate_node(session, user_id=1001, story_id=1001, node_id=1001, rating="up", reason="fine")
    view = _load(factory, 1001, 1001)
    assert [e.name for e in view.bible] == ["Mara"] and view.ratings[1001][0].reason == "fine"
    assert downgrade(engine=engine, revision="m008_memory") == "m008_memory"
    tables = set(inspect(engine).get_table_names())
    assert "bible_entries" not in tables and "sentence_ratings" not in tables
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM nodes WHERE story_id = 1001").scalar() == 1
    engine.dispose()

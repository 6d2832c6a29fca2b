"""A pairwise study from the writers' own ratings: each preference pair (the version of a sentence
rated up against a sibling rated down, in the same context) becomes one blind item, so raters
confirm or overturn the writer's choice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.studies.cli import main
from app.studies.create import FromRatings, StudySettings, make_study
from app.studies.results import study_results
from app.studies.studies import StudySpec, stories_from_pairs
from storage import (
    InvalidInput,
    Provenance,
    add_sibling,
    append_node,
    create_story,
    create_user,
    get_study,
    next_item,
    preference_pairs,
    rate_node,
    submit_answers,
)
from storage.study_models import StudyItem

CONTEXT = "Mara went out. The wind rose."


@pytest.fixture
def rated(factory) -> dict[str, str]:
    """Writer Wes: sentence 2 of one story written three ways (two rated up, one down), so two pairs
    share a context; a second story with one pair whose texts need escaping. Texts by role."""
    with factory.begin() as session:
        wes = create_user(session, name="wes", password="pw-wes", role="writer").id
        story = create_story(session, user_id=wes, title="Sea", premise="Mara went out.")

        def version(text, parent=None, *, model="m-1", keywords=("sea",)):
            made = Provenance(source="generated", keywords=list(keywords), model=model)
            if parent is None:
                return append_node(session, user_id=wes, story_id=story.id, text=text, provenance=made)
            return add_sibling(session, user_id=wes, story_id=story.id, node_id=parent.id, text=text, provenance=made)

        version("The wind rose.")
        down = version("She saw the sea.")
        up = version("The sea roared at her.", down, model="m-2", keywords=("roar",))
        up2 = version("Salt stung her eyes.", down, model="m-3")
        for node, rating in ((down, "down"), (up, "up"), (up2, "up")):
            rate_node(session, user_id=wes, story_id=story.id, node_id=node.id, rating=rating)
        other = create_story(session, user_id=wes, title="Keys", premise="Bob lost his keys.")
        low = append_node(session, user_id=wes, story_id=other.id, text="He looked.",
                          provenance=Provenance(source="typed"))
        high = add_sibling(session, user_id=wes, story_id=other.id, node_id=low.id,
                           text='He said "<never>" & 雨.', provenance=Provenance(source="edited"))
        rate_node(session, user_id=wes, story_id=other.id, node_id=low.id, rating="down")
        rate_node(session, user_id=wes, story_id=other.id, node_id=high.id, rating="up")
    return {"down": "She saw the sea.", "up": "The sea roared at her.", "up2": "Salt stung her eyes.",
            "keys": 'He said "<never>" & 雨.'}


def _items(factory, study_id: int) -> list[StudyItem]:
    with factory() as session:
        return list(session.scalars(select(StudyItem).where(StudyItem.study_id == study_id,
                                                            StudyItem.is_attention_check.is_(False))
                                    .order_by(StudyItem.ordinal)))


def _chosen_side(item: StudyItem) -> str:
    return next(side for side, system in item.hidden["systems"].items() if system == "writer-chosen")


def test_the_command_makes_one_blind_item_per_pair(db_url, factory, people, rated, capsys):
    code = main(["--db", db_url, "create", "--name", "prefs", "--kind", "pairwise", "--from-ratings",
                 "--owner", "ada", "--k", "2", "--raters", "r1,r2", "--attention-rate", "0"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "study 1: 3 preference pairs, 6 assignments"
    items = _items(factory, 1)
    shown = sorted((i.payload["premise"], _text(i, "writer-chosen"), _text(i, "writer-rejected")) for i in items)
    assert shown == sorted([(CONTEXT, rated["up"], rated["down"]), (CONTEXT, rated["up2"], rated["down"]),
                            ("Bob lost his keys.", rated["keys"], "He looked.")])  # never chosen against chosen
    for item in items:
        assert set(item.payload) == {"premise", "story_a", "story_b"}  # nothing tells the rater who chose what
        assert sorted(item.hidden["systems"].values()) == ["writer-chosen", "writer-rejected"]
        assert any(note.startswith("writer wes") for note in item.hidden["notes"][_chosen_side(item)])
    models = {(_text(i, "writer-chosen"), i.hidden["models"][_chosen_side(i)]) for i in items}
    assert (rated["up"], "m-2") in models and (rated["up2"], "m-3") in models
    with factory() as session:
        study = get_study(session, 1)
        assert study.owner_id == people["ada"] and study.kind == "pairwise"
        assert study.settings["source"] == "ratings" and study.settings["pairs"] == 3
        assert study.settings["systems"] == ["writer-chosen", "writer-rejected"]


def test_raters_answers_confirm_or_overturn_the_writer(factory, people, rated):
    settings = StudySettings(spec=StudySpec(name="prefs", kind="pairwise", overlap_k=2, attention_rate=0, seed=4),
                             owner_id=people["ada"], raters=("r1", "r2"), ratings=FromRatings(limit=10))
    made = make_study(factory, settings=settings, progress=False)
    with factory.begin() as session:
        for rater, agrees in (("r1", True), ("r2", False)):
            while (item := next_item(session, study_id=made.study_id, rater_id=people[rater])) is not None:
                chosen = item.payload["story_a"] in (rated["up"], rated["up2"], rated["keys"])
                answer = "A" if chosen == agrees else "B"
                submit_answers(session, rater_id=people[rater], item_id=item.item_id,
                               answers={"coherence": answer}, time_spent_ms=1000)
    with factory() as session:
        results = study_results(session, study_id=made.study_id, n_resamples=50)
    rates = {(w["system"], w["opponent"]): (w["wins"], w["losses"]) for w in results.win_rates}
    assert rates[("writer-chosen", "writer-rejected")] == (3, 3)  # one rater agreed on all 3, one on none


def test_limit_keeps_the_first_pairs_and_repeats_are_dropped(factory, rated):
    with factory() as session:
        pairs = list(preference_pairs(session))
    twice = pairs + [dict(pairs[0])]  # the same pair again, e.g. rated once more in a fork
    assert len(stories_from_pairs(twice, limit=10)) == 2 * len(pairs)
    one = stories_from_pairs(pairs, limit=1)
    assert [(s.system, s.sentences) for s in one] == [("writer-chosen", [pairs[0]["chosen"]]),
                                                       ("writer-rejected", [pairs[0]["rejected"]])]
    same = {**pairs[0], "rejected": f"  {pairs[0]['chosen']} "}
    with pytest.raises(InvalidInput, match="no preference pairs"):
        stories_from_pairs([same], limit=5)  # two versions that read the same: nothing to judge
    with pytest.raises(InvalidInput, match="at least 1"):
        stories_from_pairs(pairs, limit=0)


def test_limit_flag_caps_the_items(db_url, factory, people, rated, capsys):
    assert main(["--db", db_url, "create", "--name", "one", "--kind", "pairwise", "--from-ratings", "--limit", "2",
                 "--owner", "ada"]) == 0
    assert "study 1: 2 preference pairs, 0 assignments" in capsys.readouterr().out
    assert len(_items(factory, 1)) == 2


def test_no_pairs_or_a_wrong_kind_is_one_clear_error_and_no_study(db_url, factory, people, capsys):
    args = ["--db", db_url, "create", "--name", "x", "--from-ratings", "--owner", "ada"]
    assert main([*args, "--kind", "pairwise"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no preference pairs to compare yet")
    assert main([*args, "--kind", "likert"]) == 2
    assert "its kind must be pairwise" in capsys.readouterr().err
    assert main([*args, "--kind", "pairwise", "--stories", "1"]) == 2
    assert "not both" in capsys.readouterr().err
    with factory() as session:
        assert session.scalars(select(StudyItem)).first() is None


def _text(item: StudyItem, system: str) -> str:
    side = next(s for s, name in item.hidden["systems"].items() if name == system)
    return item.payload[f"story_{side.lower()}"]

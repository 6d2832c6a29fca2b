"""Creating studies: items hide systems, k-overlap assignment, attention checks at the set rate."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.studies.antonyms import AntonymTable
from app.studies.studies import (
    StudySpec,
    attention_checks,
    create_study_with_items,
    read_premises,
    story_items,
)
from engine.paths import shared_file
from storage import (
    Assignment,
    InvalidInput,
    Study,
    StudyItem,
    assign_raters,
    checks_needed,
    create_invite,
    redeem_invite,
)
from tests.studies.helpers import make_study, stories

CLOZE_VAL = str(shared_file("rocstories", "story_cloze_2016", "cloze_test_val_spring2016.csv"))


def test_items_never_show_system_or_model_names():
    for kind in ("likert", "pairwise", "control"):
        items = story_items(kind, stories(), rng=random.Random(0))
        for item in items:
            shown = json.dumps(item.payload)
            assert "full" not in shown and "plain" not in shown and "model-" not in shown
            assert "system" in item.hidden or "systems" in item.hidden


def test_pairwise_sides_are_randomised_and_pair_stories_of_one_premise():
    items = story_items("pairwise", stories(premises=40), rng=random.Random(0))
    assert len(items) == 40
    sides = Counter(item.hidden["systems"]["A"] for item in items)
    assert 10 < sides["full"] < 30 and sides["full"] + sides["plain"] == 40


def test_assignment_is_exactly_k_never_twice_and_checks_at_the_set_rate(factory, people):
    raters = ("r1", "r2", "r3", "r4")
    study_id = make_study(factory, people, k=3, rate=0.2, n_premises=20, raters=raters)
    with factory.begin() as session:
        rows = session.execute(
            select(StudyItem.id, StudyItem.is_attention_check, Assignment.rater_id)
            .join(Assignment, Assignment.item_id == StudyItem.id)
            .where(StudyItem.study_id == study_id)
        ).all()
    regular = Counter(item for item, check, _ in rows if not check)
    assert len(regular) == 40 and set(regular.values()) == {3}
    pairs = [(item, rater) for item, _, rater in rows]
    assert len(pairs) == len(set(pairs))  # no rater sees an item twice
    for rater in raters:
        mine = [check for _, check, r in rows if r == people[rater]]
        assert sum(mine) / len(mine) == pytest.approx(0.2, abs=0.02)


def test_each_rater_has_an_own_random_order(factory, people):
    study_id = make_study(factory, people, k=3, n_premises=8)
    with factory.begin() as session:
        orders = {
            rater: list(
                session.scalars(
                    select(Assignment.item_id)
                    .where(Assignment.study_id == study_id, Assignment.rater_id == people[rater])
                    .order_by(Assignment.order_index)
                )
            )
            for rater in ("r1", "r2", "r3")
        }
    assert (
        sorted(orders["r1"]) == sorted(orders["r2"])
        and len({tuple(o) for o in orders.values()}) > 1
    )


def test_checks_needed():
    assert checks_needed(rate=0.2, load=20) == 5
    assert checks_needed(rate=0.0, load=20) == 0
    assert checks_needed(rate=0.1, load=0) == 0


def test_zero_items_and_k_above_raters_are_refused_with_nothing_written(factory, people):
    with pytest.raises(InvalidInput, match="at least one item"):
        with factory.begin() as session:
            create_study_with_items(session, spec=StudySpec(name="x", kind="likert"), stories=[])
    with pytest.raises(InvalidInput, match="at least one item"):  # pairwise with one system
        with factory.begin() as session:
            create_study_with_items(
                session,
                spec=StudySpec(name="x", kind="pairwise"),
                stories=stories(systems=("full",)),
            )
    with pytest.raises(InvalidInput, match="needs at least 3 raters"):
        with factory.begin() as session:
            study = create_study_with_items(
                session,
                spec=StudySpec(name="y", kind="likert", overlap_k=3, attention_rate=0.2),
                stories=stories(),
            )
            assign_raters(session, study_id=study.id, rater_ids=[people["r1"], people["r2"]],
                          make_checks=attention_checks)
    with factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(Study)) == 0
        assert session.scalar(select(func.count()).select_from(StudyItem)) == 0


def test_expired_invite_is_refused(factory, people):
    from datetime import timedelta

    from storage import PermissionDenied, study_models
    from storage.models import utcnow

    study_id = make_study(factory, people)
    with factory.begin() as session:
        invite, token = create_invite(session, study_id=study_id, expires_in=timedelta(minutes=5))
        session.get(study_models.Invite, invite.id).expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(PermissionDenied, match="expired"):
        with factory.begin() as session:
            redeem_invite(session, token=token)


def test_antonyms_come_from_conceptnet_and_keep_words_without_one(tmp_path):
    path = tmp_path / "antonyms.txt"
    path.write_text("happy|||/r/Antonym|||unhappy sad\nhappy|||/r/NotDesires|||sad\n")
    table = AntonymTable.load(path, use_wordnet=False)
    assert table.swap(["happy", "zebra"]) == (["unhappy", "zebra"], 1)


@pytest.mark.skipif(
    not __import__("os").path.exists(CLOZE_VAL), reason="Story Cloze val not present"
)
def test_premises_are_the_first_sentences_of_story_cloze():
    premises = read_premises(CLOZE_VAL, limit=3)
    assert premises[0] == "Rick grew up in a troubled household." and len(premises) == 3
    with pytest.raises(InvalidInput):
        read_premises("/nonexistent.csv", limit=3)

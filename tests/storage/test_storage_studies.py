"""Studies: k-overlap assignment, per-rater order, blind items, ratings with an audit trail."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage import (
    Assignment,
    InvalidInput,
    ItemCounts,
    ItemInput,
    NotFound,
    PermissionDenied,
    Rating,
    StudyItem,
    add_items,
    assign_items,
    checks_given,
    create_invite,
    create_study,
    create_user,
    has_items,
    holdings,
    item_counts,
    next_item,
    rater_studies,
    rating_history,
    redeem_invite,
    regular_holders,
    regular_items,
    set_closed,
    study_ratings,
    submit_answers,
    submit_rating,
)
from storage.study_models import Invite


def _raters(session, n):
    return [create_user(session, name=f"r{i}", role="rater").id for i in range(n)]


def _study(session, *, kind="likert", k=2, n_items=12, n_checks=2):
    criteria = ["fluency", "coherence"] if kind == "likert" else ["overall"]
    study = create_study(
        session, name="S", kind=kind, criteria=criteria, overlap_k=k, attention_rate=0.1
    )
    answer = {"likert": 5, "pairwise": "A", "control": "yes"}[kind]
    items = [
        ItemInput(
            payload={"story": f"text {i}"}, hidden={"system": "full" if i % 2 else "no-knowledge"}
        )
        for i in range(n_items)
    ]
    items += [
        ItemInput(
            payload={"story": "check"}, attention_check=True, expected={c: answer for c in criteria}
        )
        for _ in range(n_checks)
    ]
    return study, add_items(session, study_id=study.id, items=items)


def test_each_item_gets_exactly_k_distinct_raters(session):
    raters = _raters(session, 5)
    study, items = _study(session, k=3)
    added = assign_items(session, study_id=study.id, rater_ids=raters, seed=1)
    rows = session.execute(select(Assignment.item_id, Assignment.rater_id)).all()
    assert len(rows) == len(set(rows)) == added
    per_item = Counter(item for item, _ in rows)
    checks = {i.id for i in items if i.is_attention_check}
    assert all(per_item[i.id] == 3 for i in items if i.id not in checks)
    assert all(per_item[i] == 5 for i in checks)
    load = Counter(rater for _, rater in rows)
    assert max(load.values()) - min(load.values()) <= 1
    assert assign_items(session, study_id=study.id, rater_ids=raters, seed=1) == 0


def test_topping_up_after_new_items_never_repeats_a_rater(session):
    raters = _raters(session, 3)
    study, _ = _study(session, k=2, n_items=4, n_checks=0)
    assign_items(session, study_id=study.id, rater_ids=raters[:2], seed=0)
    add_items(session, study_id=study.id, items=[{"payload": {"story": "late"}}])
    assert assign_items(session, study_id=study.id, rater_ids=raters, seed=0) == 2
    rows = session.execute(select(Assignment.item_id, Assignment.rater_id)).all()
    assert len(rows) == len(set(rows)) == 10
    assert set(Counter(i for i, _ in rows).values()) == {2}


def test_order_is_randomised_per_rater(session):
    raters = _raters(session, 3)
    study, _ = _study(session, k=3, n_items=20, n_checks=0)
    assign_items(session, study_id=study.id, rater_ids=raters, seed=5)
    orders = []
    for rater in raters:
        q = (
            select(Assignment.item_id)
            .where(Assignment.rater_id == rater)
            .order_by(Assignment.order_index)
        )
        orders.append(list(session.scalars(q)))
    assert sorted(orders[0]) == sorted(orders[1]) == sorted(orders[2])
    assert len({tuple(o) for o in orders}) == 3


def test_rater_flow_resume_and_audit(session):
    (rater,) = _raters(session, 1)
    study, _ = _study(session, k=1, n_items=2, n_checks=1)
    assign_items(session, study_id=study.id, rater_ids=[rater], seed=2)
    first = next_item(session, study_id=study.id, rater_id=rater)
    assert (first.number, first.total, first.done) == (1, 3, 0)
    assert "system" not in first.payload and not hasattr(first, "hidden")
    submit_rating(
        session,
        rater_id=rater,
        item_id=first.item_id,
        criterion="fluency",
        value=4,
        time_spent_ms=900,
    )
    resumed = next_item(session, study_id=study.id, rater_id=rater)
    assert resumed.item_id == first.item_id and resumed.answers == {"fluency": 4}
    rating = submit_rating(
        session,
        rater_id=rater,
        item_id=first.item_id,
        criterion="fluency",
        value=2,
        time_spent_ms=300,
    )
    submit_rating(
        session,
        rater_id=rater,
        item_id=first.item_id,
        criterion="coherence",
        value=3,
        time_spent_ms=100,
    )
    assert rating.revision == 2 and rating.value == 2
    assert [(r.revision, r.value) for r in rating_history(session, rating_id=rating.id)] == [(1, 4)]
    assert session.scalar(select(func.count()).select_from(Rating)) == 2
    after = next_item(session, study_id=study.id, rater_id=rater)
    assert after.item_id != first.item_id and (after.number, after.done) == (2, 1)
    done = session.scalar(select(Assignment).where(Assignment.item_id == first.item_id))
    assert done.completed_at is not None and done.time_spent_ms == 1300
    records = study_ratings(session, study_id=study.id)
    assert {r.criterion: r.value for r in records} == {"fluency": 2, "coherence": 3}
    item = session.get(StudyItem, first.item_id)
    assert (
        records[0].hidden == item.hidden
        and records[0].is_attention_check == item.is_attention_check
    )
    assert records[0].expected == (item.expected or {}).get(records[0].criterion)


def test_rating_an_unassigned_item_is_refused(session):
    a, b = _raters(session, 2)
    study, items = _study(session, k=1, n_items=2, n_checks=0)
    assign_items(session, study_id=study.id, rater_ids=[a, b], seed=3)
    b_item = session.scalar(select(Assignment.item_id).where(Assignment.rater_id == b))
    with pytest.raises(PermissionDenied):
        submit_rating(session, rater_id=a, item_id=b_item, criterion="fluency", value=3)
    with pytest.raises(PermissionDenied):
        submit_rating(session, rater_id=a, item_id=999_999, criterion="fluency", value=3)
    assert session.scalar(select(func.count()).select_from(Rating)) == 0


@pytest.mark.parametrize(
    "kind, good, bad",
    [
        ("likert", 5, [0, 6, 3.5, "3", True, None]),
        ("pairwise", "tie", ["a", "C", 1, None]),
        ("control", "no", [True, "maybe", 0]),
    ],
)
def test_answers_are_checked_per_kind(session, kind, good, bad):
    (rater,) = _raters(session, 1)
    study, items = _study(session, kind=kind, k=1, n_items=1, n_checks=0)
    assign_items(session, study_id=study.id, rater_ids=[rater])
    criterion = study.criteria[0]
    for value in bad:
        with pytest.raises(InvalidInput):
            submit_rating(
                session, rater_id=rater, item_id=items[0].id, criterion=criterion, value=value
            )
    with pytest.raises(InvalidInput):
        submit_rating(session, rater_id=rater, item_id=items[0].id, criterion="beauty", value=good)
    with pytest.raises(InvalidInput):
        submit_rating(
            session,
            rater_id=rater,
            item_id=items[0].id,
            criterion=criterion,
            value=good,
            time_spent_ms=-5,
        )
    assert session.scalar(select(func.count()).select_from(Rating)) == 0
    assert (
        submit_rating(
            session, rater_id=rater, item_id=items[0].id, criterion=criterion, value=good
        ).value
        == good
    )


def test_bad_studies_are_refused(session):
    raters = _raters(session, 2)
    with pytest.raises(InvalidInput):
        create_study(session, name="S", kind="ranking", criteria=["x"])
    with pytest.raises(InvalidInput):
        create_study(session, name="S", kind="likert", criteria=[])
    with pytest.raises(InvalidInput):
        create_study(session, name="S", kind="likert", criteria=["a", "a"])
    empty = create_study(session, name="Empty", kind="likert", criteria=["fluency"], overlap_k=2)
    with pytest.raises(InvalidInput, match="no items"):
        assign_items(session, study_id=empty.id, rater_ids=raters)
    with pytest.raises(InvalidInput):
        add_items(session, study_id=empty.id, items=[])
    with pytest.raises(InvalidInput):
        add_items(
            session,
            study_id=empty.id,
            items=[{"payload": {"s": 1}}, {"payload": {"s": 2}, "attention_check": True}],
        )
    with pytest.raises(InvalidInput):
        add_items(
            session, study_id=empty.id, items=[{"payload": {"s": 1}, "expected": {"fluency": 9}}]
        )
    add_items(session, study_id=empty.id, items=[{"payload": {"s": 1}}])
    with pytest.raises(InvalidInput, match="needs at least 2 raters"):
        assign_items(session, study_id=empty.id, rater_ids=raters[:1])
    with pytest.raises(NotFound):
        assign_items(session, study_id=empty.id, rater_ids=[*raters, 999_999])
    assert session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_invites_are_single_use_and_expire(session):
    study, _ = _study(session, k=1, n_items=1, n_checks=0)
    _invite, token = create_invite(session, study_id=study.id)
    rater_id, study_id = redeem_invite(session, token=token)
    assert study_id == study.id and rater_id > 0
    with pytest.raises(PermissionDenied, match="already used"):
        redeem_invite(session, token=token)
    old, old_token = create_invite(session, study_id=study.id, expires_in=timedelta(seconds=1))
    old.expires_at -= timedelta(hours=1)
    with pytest.raises(PermissionDenied, match="expired"):
        redeem_invite(session, token=old_token)
    with pytest.raises(PermissionDenied):
        redeem_invite(session, token="not-a-real-token")
    assert old_token not in {i.token_hash for i in session.scalars(select(Invite))}


def test_progress_reads_match_the_assignments(session):
    raters = _raters(session, 3)
    study, items = _study(session, k=2, n_items=4, n_checks=1)
    assign_items(session, study_id=study.id, rater_ids=raters[:2], seed=3)
    assert item_counts(session, study_id=study.id) == ItemCounts(regular=4, checks=1)
    assert [o for _, o in regular_items(session, study_id=study.id)] == [1, 2, 3, 4]
    assert regular_holders(session, study_id=study.id) == set(raters[:2])
    assert [checks_given(session, study_id=study.id, rater_id=r) for r in raters] == [1, 1, 0]
    assert [has_items(session, study_id=study.id, rater_id=r) for r in raters] == [True, True, False]
    assert rater_studies(session, rater_id=raters[0]) == [(study.id, "S")]
    assert rater_studies(session, rater_id=raters[2]) == []
    held = holdings(session, study_id=study.id)
    assert len(held) == 2 * 5 and {h.rater_name for h in held} == {"r0", "r1"}
    assert not any(h.released or h.completed for h in held)


def test_submit_answers_is_all_or_nothing_and_writes_a_repeat_once(session):
    (rater,) = _raters(session, 1)
    study, _ = _study(session, k=1, n_items=1, n_checks=0)
    assign_items(session, study_id=study.id, rater_ids=[rater], seed=0)
    item = next_item(session, study_id=study.id, rater_id=rater)
    with pytest.raises(InvalidInput, match="please answer: coherence"):
        submit_answers(session, rater_id=rater, item_id=item.item_id, answers={"fluency": 4}, time_spent_ms=10)
    with pytest.raises(InvalidInput):
        submit_answers(session, rater_id=rater, item_id=item.item_id,
                       answers={"fluency": 4, "coherence": 9}, time_spent_ms=10)
    assert session.scalar(select(func.count()).select_from(Rating)) == 0
    answers = {"fluency": 4, "coherence": 3}
    assert submit_answers(session, rater_id=rater, item_id=item.item_id, answers=answers, time_spent_ms=10) == 2
    assert submit_answers(session, rater_id=rater, item_id=item.item_id, answers=answers, time_spent_ms=10) == 0
    with pytest.raises(PermissionDenied, match="not assigned"):
        submit_answers(session, rater_id=rater + 1, item_id=item.item_id, answers=answers, time_spent_ms=0)
    set_closed(session, study_id=study.id)
    with pytest.raises(PermissionDenied, match="closed"):
        submit_answers(session, rater_id=rater, item_id=item.item_id, answers=answers, time_spent_ms=0)

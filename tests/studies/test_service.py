"""Rater and admin access, all-or-nothing submissions, and results computed from the database."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from app.studies.results import QualityRules, raw_rows, summary_rows, to_csv, to_jsonl
from app.studies.service import EvalService
from storage import InvalidInput, PermissionDenied, Rating, RatingRevision, study_ratings
from tests.studies.helpers import make_study


@pytest.fixture
def service(factory) -> EvalService:
    return EvalService(factory=factory, secret=b"test-secret")


def _count(factory, model) -> int:
    with factory.begin() as session:
        return session.scalar(select(func.count()).select_from(model))


def _answers(item, value):
    return {c: value for c in item.criteria}


def test_rater_sees_only_own_items_and_no_hidden_data(factory, people, service):
    study_id = make_study(factory, people)
    token = service.login(name="r1", password="pw-r1")
    item = service.current_item(token, study_id=study_id)
    assert item.total > 0 and "system" not in str(item.payload)
    assert service.my_studies(token) == [(study_id, "likert study")]
    outsider = service.login(name="r4", password="pw-r4")  # has no assignments
    with pytest.raises(PermissionDenied):
        service.current_item(outsider, study_id=study_id)


def test_refusals_other_raters_item_tampered_id_forged_token_and_admin_results(
    factory, people, service
):
    study_id = make_study(factory, people, k=1)
    r1 = service.login(name="r1", password="pw-r1")
    r2 = service.login(name="r2", password="pw-r2")
    theirs = service.current_item(r2, study_id=study_id)
    mine = {service.current_item(r1, study_id=study_id).item_id}
    if theirs.item_id not in mine:
        with pytest.raises(PermissionDenied):
            service.submit(
                r1, item_id=theirs.item_id, answers=_answers(theirs, 3), time_spent_ms=10
            )
    with pytest.raises(PermissionDenied):
        service.submit(r1, item_id=999_999, answers=_answers(theirs, 3), time_spent_ms=10)
    tampered = r1[:4] + ("A" if r1[4] != "A" else "B") + r1[5:]
    with pytest.raises(PermissionDenied):
        service.current_item(tampered, study_id=study_id)
    with pytest.raises(PermissionDenied):
        service.results(r1, study_id=study_id)
    with pytest.raises(PermissionDenied):
        service.login(name="r1", password="wrong")
    assert _count(factory, Rating) == 0
    admin = service.login(name="ada", password="pw-ada")
    assert service.results(admin, study_id=study_id, n_resamples=50).study_id == study_id


def test_double_submission_records_one_rating(factory, people, service):
    study_id = make_study(factory, people)
    token = service.login(name="r1", password="pw-r1")
    item = service.current_item(token, study_id=study_id)
    for _ in range(2):
        service.submit(token, item_id=item.item_id, answers=_answers(item, 4), time_spent_ms=1500)
    assert _count(factory, Rating) == len(item.criteria)
    assert _count(factory, RatingRevision) == 0
    assert service.current_item(token, study_id=study_id).done == 1


def test_bad_answers_are_refused_and_nothing_is_half_written(factory, people, service):
    study_id = make_study(factory, people)
    token = service.login(name="r1", password="pw-r1")
    item = service.current_item(token, study_id=study_id)
    partial = _answers(item, 3)
    partial[item.criteria[-1]] = None
    with pytest.raises(InvalidInput, match="please answer"):
        service.submit(token, item_id=item.item_id, answers=partial, time_spent_ms=10)
    out_of_range = _answers(item, 3)
    out_of_range[item.criteria[-1]] = 6
    with pytest.raises(InvalidInput, match="1 to 5"):
        service.submit(token, item_id=item.item_id, answers=out_of_range, time_spent_ms=10)
    assert _count(factory, Rating) == 0


def test_resume_continues_at_the_first_unfinished_item(factory, people, service):
    study_id = make_study(factory, people)
    first = service.login(name="r1", password="pw-r1")
    seen = []
    for _ in range(2):
        item = service.current_item(first, study_id=study_id)
        seen.append(item.item_id)
        service.submit(first, item_id=item.item_id, answers=_answers(item, 2), time_spent_ms=900)
    later = service.login(name="r1", password="pw-r1")  # another day, a new token
    item = service.current_item(later, study_id=study_id)
    assert item.done == 2 and item.item_id not in seen


def test_results_flag_a_careless_rater_and_recompute_without_them(factory, people, service):
    study_id = make_study(factory, people, k=3, rate=0.25, n_premises=6)
    tokens = {r: service.login(name=r, password=f"pw-{r}") for r in ("r1", "r2", "r3")}
    for rater, token in tokens.items():
        while (item := service.current_item(token, study_id=study_id)) is not None:
            expected = _expected(factory, item.item_id)
            if expected is not None:
                value = expected if rater != "r3" else (expected % 5) + 1  # r3 fails every check
            else:
                value = 5 if "-0." in item.payload["story"] else 2  # system "full" is story n=0
                value = value if rater != "r3" else 1
            service.submit(
                token, item_id=item.item_id, answers=_answers(item, value), time_spent_ms=4000
            )
    admin = service.login(name="ada", password="pw-ada")
    kept = service.results(admin, study_id=study_id, n_resamples=200)
    flagged = {q.rater_id for q in kept.quality if q.flagged}
    assert flagged == {people["r3"]} and kept.excluded == []
    cleaned = service.results(
        admin, study_id=study_id, n_resamples=200, rules=QualityRules(exclude_flagged=True)
    )
    assert cleaned.excluded == [people["r3"]]
    means = {(m["system"], m["criterion"]): m for m in cleaned.means}
    assert means["full", "fluency"]["mean"] == 5 and means["plain", "fluency"]["mean"] == 2
    assert all(a["alpha"] == pytest.approx(1.0) for a in cleaned.agreement)
    assert all(a["alpha"] < 0.9 for a in kept.agreement)  # the careless rater lowers agreement
    with factory.begin() as session:
        rows = raw_rows(study_ratings(session, study_id=study_id))
    assert to_csv(rows).splitlines()[0].startswith("rating_id,rater_id,item_id")
    assert len(to_jsonl(summary_rows(cleaned)).splitlines()) == len(summary_rows(cleaned))
    assert not math.isnan(cleaned.means[0]["low"])


def _expected(factory, item_id):
    from storage import StudyItem

    with factory.begin() as session:
        item = session.get(StudyItem, item_id)
        return next(iter(item.expected.values())) if item.is_attention_check else None

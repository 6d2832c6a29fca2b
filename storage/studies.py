"""Human evaluation: studies, items, k-overlap assignment, ratings with an audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import validate
from storage.errors import InvalidInput, NotFound, PermissionDenied
from storage.models import utcnow
from storage.study_models import (
    STUDY_KINDS,
    Assignment,
    Rating,
    RatingRevision,
    Study,
    StudyItem,
)

LIKERT_RANGE = range(1, 6)
PAIRWISE_ANSWERS = ("A", "B", "tie", "both_bad")
CONTROL_ANSWERS = ("yes", "no")
# What a pairwise answer means for the systems compared: both_bad is a tie (neither is better).
PAIRWISE_OUTCOMES = {"A": "a", "B": "b", "tie": "tie", "both_bad": "tie"}
CONTROL_SCORES = {"yes": 1.0, "no": 0.0}
MAX_TIME_SPENT_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class ItemInput:
    """One item to add: what raters see, what stays hidden, and a known answer for checks."""

    payload: dict[str, Any]
    hidden: dict[str, Any] = field(default_factory=dict)
    attention_check: bool = False
    expected: dict[str, Any] | None = None


@dataclass(frozen=True)
class RaterItem:
    """What a rater is shown next: never the hidden systems or the known answers."""

    assignment_id: int
    item_id: int
    study_id: int
    kind: str
    criteria: list[str]
    payload: dict[str, Any]
    answers: dict[str, Any]
    number: int
    total: int
    done: int


def create_study(
    session: Session,
    *,
    name: str,
    kind: str,
    criteria: Sequence[str],
    overlap_k: int = 1,
    owner_id: int | None = None,
    instructions: str = "",
    attention_rate: float = 0.0,
    settings: dict[str, Any] | None = None,
) -> Study:
    """Create an evaluation study.

    Args:
        session: Open session; the caller commits.
        name: Shown to admins.
        kind: "likert" (1-5), "pairwise" (A, B, tie, both_bad) or "control" (yes, no).
        criteria: What raters judge, e.g. ["fluency", "coherence"]; at least one.
        overlap_k: How many distinct raters see each item.
        owner_id: The admin who made it.
        instructions: Text for the raters' instructions page.
        attention_rate: Share of attention-check items the study aims for (0 to <1).
        settings: Any JSON-able extras (premises, systems, generation settings).

    Returns:
        The new study.
    """
    validate.choice(kind, field="kind", options=STUDY_KINDS)
    names = [
        validate.text(c, field="criterion", limit=64).strip()
        for c in validate.json_list(criteria, field="criteria")
    ]
    if not names or len(set(names)) != len(names):
        raise InvalidInput("criteria must be a non-empty list of distinct names")
    if isinstance(overlap_k, bool) or not isinstance(overlap_k, int) or not 1 <= overlap_k <= 1000:
        raise InvalidInput(f"overlap_k must be an integer from 1 to 1000, got {overlap_k!r}")
    if not isinstance(attention_rate, int | float) or not 0 <= attention_rate < 1:
        raise InvalidInput("attention_rate must be a number in [0, 1)")
    study = Study(
        name=validate.text(name, field="name", limit=200),
        kind=kind,
        criteria=names,
        overlap_k=overlap_k,
        owner_id=owner_id,
        instructions=validate.text(instructions, field="instructions", allow_empty=True),
        attention_rate=float(attention_rate),
        settings=validate.json_object(settings, field="settings"),
    )
    session.add(study)
    session.flush()
    return study


def get_study(session: Session, study_id: int) -> Study:
    """Return a study by id, or raise `NotFound`."""
    study = session.get(Study, validate.identifier(study_id, field="study_id"))
    if study is None:
        raise NotFound(f"no study {study_id}")
    return study


def set_closed(session: Session, *, study_id: int, closed: bool = True) -> Study:
    """Close a study (no new raters, no new answers; results stay) or reopen it."""
    study = get_study(session, study_id)
    study.closed_at = (study.closed_at or utcnow()) if closed else None  # a second close keeps the first time
    return study


def add_items(
    session: Session, *, study_id: int, items: Sequence[ItemInput | Mapping[str, Any]]
) -> list[StudyItem]:
    """Add items to a study; all are checked before any is written.

    Args:
        session: Open session; the caller commits.
        study_id: The study.
        items: `ItemInput`s or dicts with the same keys.

    Returns:
        The new items, numbered after the existing ones.
    """
    study = get_study(session, study_id)
    if isinstance(items, str | bytes | Mapping) or not items:
        raise InvalidInput("items must be a non-empty list")
    checked = [_check_item(study, item) for item in items]
    start = session.scalar(
        select(func.coalesce(func.max(StudyItem.ordinal), 0)).where(StudyItem.study_id == study.id)
    )
    rows = [
        StudyItem(
            study_id=study.id,
            ordinal=start + n,
            payload=item.payload,
            hidden=item.hidden,
            is_attention_check=item.attention_check,
            expected=item.expected,
        )
        for n, item in enumerate(checked, start=1)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def next_item(session: Session, *, study_id: int, rater_id: int) -> RaterItem | None:
    """The rater's next unfinished item in their own order, or `None` when done.

    Answers already given for that item are included, so a rater can resume.
    """
    study = get_study(session, study_id)
    base = select(Assignment).where(
        Assignment.study_id == study.id,
        Assignment.rater_id == validate.identifier(rater_id, field="rater_id"),
        Assignment.released_at.is_(None),  # items released past their lease are someone else's now
    )
    assignments = list(session.scalars(base.order_by(Assignment.order_index)))
    pending = [a for a in assignments if a.completed_at is None]
    if not pending:
        return None
    current = pending[0]
    item = session.get(StudyItem, current.item_id)
    answers = {
        r.criterion: r.value
        for r in session.scalars(select(Rating).where(Rating.assignment_id == current.id))
    }
    return RaterItem(
        assignment_id=current.id,
        item_id=item.id,
        study_id=study.id,
        kind=study.kind,
        criteria=list(study.criteria),
        payload=dict(item.payload),
        answers=answers,
        number=assignments.index(current) + 1,
        total=len(assignments),
        done=len(assignments) - len(pending),
    )


def submit_rating(
    session: Session,
    *,
    rater_id: int,
    item_id: int,
    criterion: str,
    value: Any,
    time_spent_ms: int = 0,
) -> Rating:
    """Record a rater's answer; a resubmission updates it and keeps the old one for audit.

    Args:
        session: Open session; the caller commits.
        rater_id: The rater; the item must be assigned to them.
        item_id: The item.
        criterion: One of the study's criteria.
        value: Likert 1-5, pairwise "A"/"B"/"tie"/"both_bad", or control "yes"/"no".
        time_spent_ms: Time on this answer, added to the assignment's total.

    Returns:
        The current rating row.

    Raises:
        PermissionDenied: The item is not assigned to this rater.
        InvalidInput: Unknown criterion, out-of-range answer or time.
    """
    assignment = session.scalar(
        select(Assignment)
        .where(
            Assignment.item_id == validate.identifier(item_id, field="item_id"),
            Assignment.rater_id == validate.identifier(rater_id, field="rater_id"),
        )
        .with_for_update()
    )
    if assignment is None:
        raise PermissionDenied(f"item {item_id} is not assigned to rater {rater_id}")
    study = session.get(Study, assignment.study_id)
    validate.choice(criterion, field="criterion", options=tuple(study.criteria))
    check_answer(study.kind, value)
    if (
        isinstance(time_spent_ms, bool)
        or not isinstance(time_spent_ms, int)
        or not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS
    ):
        raise InvalidInput("time_spent_ms must be an integer from 0 to 24 hours")
    rating = _upsert(session, assignment, criterion, value, time_spent_ms)
    assignment.time_spent_ms += time_spent_ms
    answered = session.scalar(select(func.count()).where(Rating.assignment_id == assignment.id))
    if answered >= len(study.criteria) and assignment.completed_at is None:
        assignment.completed_at = utcnow()
    return rating


def submit_answers(
    session: Session, *, rater_id: int, item_id: int, answers: Mapping[str, Any], time_spent_ms: int
) -> int:
    """Record a rater's answers to every criterion of one item, all or nothing.

    A late answer to an item released after its lease still counts (the item is the
    rater's again); an answer identical to the one stored writes nothing.

    Args:
        session: Open session; the caller commits.
        rater_id: The rater; the item must have been given to them.
        item_id: The item.
        answers: Criterion -> answer, for every criterion of the study.
        time_spent_ms: Time on the item, counted once.

    Returns:
        How many answers changed.

    Raises:
        PermissionDenied: The item is not this rater's, or the study is closed.
        InvalidInput: A criterion without an answer, or an answer out of range.
    """
    assignment = session.scalar(
        select(Assignment).where(Assignment.item_id == item_id, Assignment.rater_id == rater_id)
    )
    if assignment is None:
        raise PermissionDenied(f"item {item_id} is not assigned to you")
    study = session.get(Study, assignment.study_id)
    if study.closed_at is not None:
        raise PermissionDenied("this study is closed; your earlier answers are kept")
    if assignment.released_at is not None:  # answered after its lease: still counts
        assignment.released_at = None
    missing = [c for c in study.criteria if answers.get(c) in (None, "")]
    if missing:
        raise InvalidInput(f"please answer: {', '.join(missing)}")
    for criterion in study.criteria:
        check_answer(study.kind, answers[criterion])
    given = {
        r.criterion: r.value
        for r in session.scalars(select(Rating).where(Rating.assignment_id == assignment.id))
    }
    changed = [c for c in study.criteria if given.get(c) != answers[c]]
    for n, criterion in enumerate(changed):
        submit_rating(session, rater_id=rater_id, item_id=item_id, criterion=criterion,
                      value=answers[criterion], time_spent_ms=time_spent_ms if n == 0 else 0)
    return len(changed)


def _upsert(
    session: Session, assignment: Assignment, criterion: str, value: Any, time_spent_ms: int
) -> Rating:
    """Insert the rating, or move the old answer to the audit table and update it."""
    rating = session.scalar(
        select(Rating).where(Rating.assignment_id == assignment.id, Rating.criterion == criterion)
    )
    now = utcnow()
    if rating is None:
        rating = Rating(
            assignment_id=assignment.id,
            rater_id=assignment.rater_id,
            item_id=assignment.item_id,
            criterion=criterion,
            value=value,
            time_spent_ms=time_spent_ms,
            created_at=now,
            updated_at=now,
        )
        session.add(rating)
    else:
        session.add(
            RatingRevision(
                rating_id=rating.id,
                revision=rating.revision,
                value=rating.value,
                time_spent_ms=rating.time_spent_ms,
                submitted_at=rating.updated_at,
            )
        )
        rating.value, rating.time_spent_ms, rating.updated_at = value, time_spent_ms, now
        rating.revision += 1
    session.flush()
    return rating


def check_answer(kind: str, value: Any) -> Any:
    """Return `value` if it is a valid answer for a study of `kind`."""
    if kind == "likert":
        if isinstance(value, bool) or not isinstance(value, int) or value not in LIKERT_RANGE:
            raise InvalidInput(f"a Likert answer is an integer from 1 to 5, got {value!r}")
        return value
    options = PAIRWISE_ANSWERS if kind == "pairwise" else CONTROL_ANSWERS
    if value not in options or not isinstance(value, str):
        raise InvalidInput(f"a {kind} answer is one of {', '.join(options)}, got {value!r}")
    return value


def _check_item(study: Study, item: ItemInput | Mapping[str, Any]) -> ItemInput:
    """Validate one item against the study's kind and criteria."""
    if isinstance(item, Mapping):
        unknown = set(item) - ItemInput.__dataclass_fields__.keys()
        if unknown or "payload" not in item:
            raise InvalidInput(f"an item needs a payload and takes no {sorted(unknown)}")
        item = ItemInput(**item)
    payload = validate.json_object(item.payload, field="payload")
    if not payload:
        raise InvalidInput("an item's payload must not be empty")
    expected = (
        None if item.expected is None else validate.json_object(item.expected, field="expected")
    )
    if item.attention_check and not expected:
        raise InvalidInput("an attention-check item needs its expected answers")
    for criterion, answer in (expected or {}).items():
        validate.choice(criterion, field="expected criterion", options=tuple(study.criteria))
        check_answer(study.kind, answer)
    return ItemInput(
        payload=payload,
        hidden=validate.json_object(item.hidden, field="hidden"),
        attention_check=bool(item.attention_check),
        expected=expected,
    )

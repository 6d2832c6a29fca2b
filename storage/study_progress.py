"""Reading where a study stands: item counts, who holds which item, each rater's studies.

Read-only queries for the evaluation pages and command line; writes live in
`storage.studies` and `storage.assignment`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import validate
from storage.models import User
from storage.study_models import Assignment, Study, StudyItem


@dataclass(frozen=True)
class ItemCounts:
    """A study's items: regular ones and attention checks."""

    regular: int
    checks: int


@dataclass(frozen=True)
class Holding:
    """One assignment of a study as its admin sees it."""

    item_id: int
    rater_id: int
    rater_name: str
    is_attention_check: bool
    released: bool  # taken back after the study's lease ran out
    completed: bool
    time_spent_ms: int


def item_counts(session: Session, *, study_id: int) -> ItemCounts:
    """How many regular items and attention checks a study has."""
    counts = dict(
        session.execute(
            select(StudyItem.is_attention_check, func.count())
            .where(StudyItem.study_id == validate.identifier(study_id, field="study_id"))
            .group_by(StudyItem.is_attention_check)
        ).all()
    )
    return ItemCounts(regular=counts.get(False, 0), checks=counts.get(True, 0))


def regular_items(session: Session, *, study_id: int) -> list[tuple[int, int]]:
    """(item id, ordinal) of a study's regular items, in ordinal order."""
    query = (
        select(StudyItem.id, StudyItem.ordinal)
        .where(StudyItem.study_id == study_id, StudyItem.is_attention_check.is_(False))
        .order_by(StudyItem.ordinal)
    )
    return [(item_id, ordinal) for item_id, ordinal in session.execute(query)]


def regular_hidden(session: Session, *, study_id: int) -> list[dict]:
    """The hidden data (systems, models, what produced each story) of a study's regular items, in order."""
    query = (
        select(StudyItem.hidden)
        .where(StudyItem.study_id == study_id, StudyItem.is_attention_check.is_(False))
        .order_by(StudyItem.ordinal)
    )
    return [dict(hidden or {}) for hidden in session.scalars(query)]


def holdings(session: Session, *, study_id: int) -> list[Holding]:
    """Every assignment of a study (released ones included) with its rater's name."""
    rows = session.execute(
        select(Assignment, StudyItem.is_attention_check, User.name)
        .join(StudyItem, StudyItem.id == Assignment.item_id)
        .join(User, User.id == Assignment.rater_id)
        .where(Assignment.study_id == study_id)
        .order_by(Assignment.id)
    ).all()
    return [
        Holding(a.item_id, a.rater_id, name, is_check, a.released_at is not None,
                a.completed_at is not None, a.time_spent_ms)
        for a, is_check, name in rows
    ]


def regular_holders(session: Session, *, study_id: int) -> set[int]:
    """Ids of the raters given at least one regular item of a study (released ones count)."""
    query = (
        select(Assignment.rater_id)
        .join(StudyItem, StudyItem.id == Assignment.item_id)
        .where(Assignment.study_id == study_id, StudyItem.is_attention_check.is_(False))
    )
    return set(session.scalars(query))


def checks_given(session: Session, *, study_id: int, rater_id: int) -> int:
    """How many attention checks of a study a rater has been given."""
    return session.scalar(
        select(func.count())
        .select_from(Assignment)
        .join(StudyItem, StudyItem.id == Assignment.item_id)
        .where(
            Assignment.study_id == study_id,
            Assignment.rater_id == rater_id,
            StudyItem.is_attention_check.is_(True),
        )
    )


def has_items(session: Session, *, study_id: int, rater_id: int) -> bool:
    """Whether a rater was ever given an item of a study."""
    query = (
        select(Assignment.id)
        .where(Assignment.study_id == study_id, Assignment.rater_id == rater_id)
        .limit(1)
    )
    return session.scalar(query) is not None


def rater_studies(session: Session, *, rater_id: int) -> list[tuple[int, str]]:
    """(id, name) of the studies where a rater holds items now, by id."""
    query = (
        select(Study.id, Study.name)
        .join(Assignment, Assignment.study_id == Study.id)
        .where(Assignment.rater_id == rater_id, Assignment.released_at.is_(None))
        .distinct()
        .order_by(Study.id)
    )
    return [(study_id, name) for study_id, name in session.execute(query)]

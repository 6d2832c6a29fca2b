"""k-overlap assignment: each item to exactly k distinct raters, each rater in a random order."""

from __future__ import annotations

import random
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import validate
from storage.errors import InvalidInput, NotFound
from storage.models import User
from storage.studies import get_study
from storage.study_models import Assignment, Study, StudyItem


def assign_items(
    session: Session, *, study_id: int, rater_ids: Sequence[int], seed: int | None = None
) -> int:
    """Give every item to `overlap_k` distinct raters, each rater in a random order.

    Regular items are topped up to exactly k raters (least-loaded raters first);
    attention-check items go to every rater. Existing assignments are kept, so a
    second call after adding items or raters only adds what is missing.

    Args:
        session: Open session; the caller commits.
        study_id: The study.
        rater_ids: Users who rate; at least `overlap_k` of them.
        seed: Seed for the random choices, for reproducible assignments.

    Returns:
        How many assignments were added.
    """
    study = get_study(session, study_id)
    raters = sorted({validate.identifier(r, field="rater_id") for r in rater_ids})
    if len(raters) < study.overlap_k:
        raise InvalidInput(
            f"overlap k={study.overlap_k} needs at least {study.overlap_k} raters, got {len(raters)}"
        )
    found = set(session.scalars(select(User.id).where(User.id.in_(raters))))
    if missing := sorted(set(raters) - found):
        raise NotFound(f"no users {missing}")
    items = list(
        session.scalars(
            select(StudyItem).where(StudyItem.study_id == study.id).order_by(StudyItem.ordinal)
        )
    )
    if not items:
        raise InvalidInput(f"study {study.id} has no items to assign")
    existing = session.execute(
        select(Assignment.item_id, Assignment.rater_id).where(Assignment.study_id == study.id)
    ).all()
    plan = _plan(study.overlap_k, items, raters, existing, random.Random(seed))
    return _write_plan(session, study, plan, random.Random(seed))


def _plan(
    k: int, items: list[StudyItem], raters: list[int], existing: list, rng: random.Random
) -> dict[int, list[int]]:
    """New item ids per rater: top each regular item up to k raters, checks to all."""
    holders: dict[int, set[int]] = {}
    load = dict.fromkeys(raters, 0)
    for item_id, rater_id in existing:
        holders.setdefault(item_id, set()).add(rater_id)
        load[rater_id] = load.get(rater_id, 0) + 1
    plan: dict[int, list[int]] = {r: [] for r in raters}
    for item in rng.sample(items, len(items)):
        have = holders.get(item.id, set())
        free = [r for r in raters if r not in have]
        want = len(free) if item.is_attention_check else max(k - len(have), 0)
        for rater in sorted(free, key=lambda r: (load[r], rng.random()))[:want]:
            plan[rater].append(item.id)
            load[rater] += 1
    return plan


def _write_plan(
    session: Session, study: Study, plan: dict[int, list[int]], rng: random.Random
) -> int:
    """Insert planned assignments after each rater's existing ones, shuffled."""
    added = 0
    for rater_id, item_ids in plan.items():
        last = session.scalar(
            select(func.coalesce(func.max(Assignment.order_index), 0)).where(
                Assignment.study_id == study.id, Assignment.rater_id == rater_id
            )
        )
        rng.shuffle(item_ids)
        session.add_all(
            Assignment(study_id=study.id, item_id=item_id, rater_id=rater_id, order_index=last + n)
            for n, item_id in enumerate(item_ids, start=1)
        )
        added += len(item_ids)
    session.flush()
    return added

"""Assignment: each item to k distinct raters, each rater in a random order.

Two ways in: `assign_items` hands every item to k of a known list of raters at once;
`give_share` hands one arriving rater (an invite redeemed) a share of the items that
still have fewer than k raters, the way raters trickle in during a real study. An item a
rater holds past the study's lease without answering is released (`release_overdue`)
and counts as open again; the released row stays, so nobody is given the same item
twice, and a late answer to it is still accepted.

The whole rule lives here: `assign_raters` and `assign_share` first top up attention checks
so each rater's share of them matches the study's `attention_rate` (`checks_needed`), with
items the caller makes (`CheckMaker`: the app writes their text), then assign.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from storage import validate
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import User, utcnow
from storage.studies import ItemInput, add_items, get_study
from storage.study_admin import open_invites
from storage.study_models import Assignment, Rating, Study, StudyItem
from storage.study_progress import checks_given, item_counts

# Makes `count` attention-check items for `study` with `rng`: (study, count, rng) -> items.
CheckMaker = Callable[[Study, int, random.Random], list[ItemInput]]


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
        select(Assignment.item_id, Assignment.rater_id, Assignment.released_at).where(
            Assignment.study_id == study.id
        )
    ).all()
    plan = _plan(study.overlap_k, items, raters, existing, random.Random(seed))
    return _write_plan(session, study, plan, random.Random(seed))


def _plan(
    k: int, items: list[StudyItem], raters: list[int], existing: list, rng: random.Random
) -> dict[int, list[int]]:
    """New item ids per rater: top each regular item up to k raters, checks to all."""
    holders: dict[int, set[int]] = {}  # raters who hold the item now (released rows do not count)
    seen: dict[int, set[int]] = {}  # raters who ever held it (nobody gets an item twice)
    load = dict.fromkeys(raters, 0)
    for item_id, rater_id, released_at in existing:
        seen.setdefault(item_id, set()).add(rater_id)
        if released_at is None:
            holders.setdefault(item_id, set()).add(rater_id)
            load[rater_id] = load.get(rater_id, 0) + 1
    plan: dict[int, list[int]] = {r: [] for r in raters}
    for item in rng.sample(items, len(items)):
        have = holders.get(item.id, set())
        free = [r for r in raters if r not in seen.get(item.id, set())]
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


class StudyFull(Conflict):
    """Every item already has its k raters."""


@dataclass(frozen=True)
class Pool:
    """Where a study's regular items stand: how many rater slots are still open."""

    items: int  # regular items
    open_slots: int  # sum over items of k minus the raters holding or done with it
    under_k: int  # items with fewer than k raters holding or done with them


def _lease_deadline(study: Study, now: datetime) -> datetime:
    return now - timedelta(hours=study.lease_hours)


def release_overdue(session: Session, *, study_id: int, now: datetime | None = None) -> int:
    """Release items held past the study's lease without an answer; returns how many."""
    study = get_study(session, study_id)
    now = now or utcnow()
    answered = exists().where(Rating.assignment_id == Assignment.id)
    overdue = list(
        session.scalars(
            select(Assignment).where(
                Assignment.study_id == study.id,
                Assignment.completed_at.is_(None),
                Assignment.released_at.is_(None),
                Assignment.assigned_at < _lease_deadline(study, now),
                ~answered,
            )
        )
    )
    for assignment in overdue:
        assignment.released_at = now
    session.flush()
    return len(overdue)


def pool(session: Session, *, study_id: int) -> Pool:
    """Open rater slots of a study's regular items (released holdings count as open)."""
    study = get_study(session, study_id)
    held = (
        select(Assignment.item_id, func.count().label("n"))
        .where(Assignment.study_id == study.id, Assignment.released_at.is_(None))
        .group_by(Assignment.item_id)
        .subquery()
    )
    counts = session.execute(
        select(StudyItem.id, func.coalesce(held.c.n, 0))
        .outerjoin(held, held.c.item_id == StudyItem.id)
        .where(StudyItem.study_id == study.id, StudyItem.is_attention_check.is_(False))
    ).all()
    gaps = [max(study.overlap_k - n, 0) for _, n in counts]
    return Pool(items=len(counts), open_slots=sum(gaps), under_k=sum(1 for g in gaps if g))


def give_share(
    session: Session, *, study_id: int, rater_id: int, regular: int, checks: int, seed: int | None = None
) -> int:
    """Give one rater up to `regular` open items (least-covered first) and `checks` attention checks.

    Args:
        session: Open session; the caller commits.
        study_id: The study.
        rater_id: The arriving rater.
        regular: How many regular items at most.
        checks: How many attention-check items at most (ones this rater has not seen).
        seed: Seed of the tie-breaks and of the rater's order.

    Returns:
        How many assignments were added.

    Raises:
        StudyFull: No regular item needs another rater.
    """
    study = get_study(session, study_id)
    rater_id = validate.identifier(rater_id, field="rater_id")
    rng = random.Random(seed)
    rows = session.execute(
        select(Assignment.item_id, Assignment.rater_id, Assignment.released_at).where(
            Assignment.study_id == study.id
        )
    ).all()
    holding: dict[int, int] = {}
    mine = set()
    for item_id, holder, released_at in rows:
        if released_at is None:
            holding[item_id] = holding.get(item_id, 0) + 1
        if holder == rater_id:
            mine.add(item_id)
    items = list(session.scalars(select(StudyItem).where(StudyItem.study_id == study.id)))
    open_items = [
        i for i in items
        if not i.is_attention_check and i.id not in mine and holding.get(i.id, 0) < study.overlap_k
    ]
    if not open_items:
        raise StudyFull(f"study {study.id} is full: every item already has {study.overlap_k} raters")
    open_items.sort(key=lambda i: (holding.get(i.id, 0), rng.random()))
    fresh_checks = [i for i in items if i.is_attention_check and i.id not in mine]
    chosen = [i.id for i in open_items[: max(regular, 1)]] + [i.id for i in rng.sample(fresh_checks, min(checks, len(fresh_checks)))]
    return _write_plan(session, study, {rater_id: chosen}, rng)


def checks_needed(*, rate: float, load: int) -> int:
    """Attention checks per rater so that checks / (checks + load) is closest to `rate`."""
    return 0 if rate <= 0 or load <= 0 else round(rate * load / (1 - rate))


def assign_raters(
    session: Session, *, study_id: int, rater_ids: Sequence[int], make_checks: CheckMaker, seed: int | None = None
) -> int:
    """Top up attention checks for the per-rater load, then give items to raters (k-overlap).

    Args:
        session: Open session; the caller commits.
        study_id: The study.
        rater_ids: Raters; at least the study's overlap k of them.
        make_checks: Makes the attention-check items that are missing.
        seed: Seed of the assignment and of the check answers.

    Returns:
        How many assignments were added.
    """
    study = get_study(session, study_id)
    raters = sorted(set(rater_ids))
    if len(raters) < study.overlap_k:
        raise InvalidInput(f"overlap k={study.overlap_k} needs at least {study.overlap_k} raters, got {len(raters)}")
    counts = item_counts(session, study_id=study.id)
    if counts.regular == 0:
        raise InvalidInput(f"study {study.id} has no items to assign")
    load = math.ceil(counts.regular * study.overlap_k / len(raters))
    missing = checks_needed(rate=study.attention_rate, load=load) - counts.checks
    if missing > 0:
        add_items(session, study_id=study.id, items=make_checks(study, missing, random.Random(seed)))
    return assign_items(session, study_id=study.id, rater_ids=raters, seed=seed)


def assign_share(
    session: Session, *, study_id: int, rater_id: int, make_checks: CheckMaker, seed: int | None = None
) -> int:
    """Give an arriving rater a fair share of the open work, with attention checks at the study's rate.

    Items held past the study's lease are released first. The open rater slots are split
    over this rater and the invites still out, so the last invitee still finds work; a
    study setting `items_per_rater` caps the share.

    Returns:
        How many assignments were added.

    Raises:
        StudyFull: Every item already has its k raters.
    """
    study = get_study(session, study_id)
    release_overdue(session, study_id=study.id)
    waiting = pool(session, study_id=study.id)
    share = math.ceil(waiting.open_slots / (open_invites(session, study_id=study.id) + 1))
    if cap := (study.settings or {}).get("items_per_rater"):
        share = min(share, int(cap))
    wanted = checks_needed(rate=study.attention_rate, load=max(share, 1))
    seen = checks_given(session, study_id=study.id, rater_id=rater_id)
    checks = item_counts(session, study_id=study.id).checks
    if (missing := wanted + seen - checks) > 0:
        add_items(session, study_id=study.id, items=make_checks(study, missing, random.Random(seed)))
    return give_share(session, study_id=study.id, rater_id=rater_id, regular=share, checks=wanted, seed=seed)

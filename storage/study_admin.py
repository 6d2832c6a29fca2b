"""Admin side of studies: one-time rater invites and the raw ratings for results."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import validate
from storage.errors import Conflict, InvalidInput, PermissionDenied
from storage.models import utcnow
from storage.studies import get_study
from storage.study_models import Assignment, Invite, Rating, RatingRevision, StudyItem
from storage.users import create_user, get_user


class InviteUsed(PermissionDenied):
    """An invite opened again after its first use; says whose it was."""

    def __init__(self, *, rater_id: int, study_id: int):
        super().__init__("this invite was already used")
        self.rater_id, self.study_id = rater_id, study_id


@dataclass(frozen=True)
class RatingRecord:
    """One current rating with what results need: systems, checks, time (admins only)."""

    rating_id: int
    rater_id: int
    item_id: int
    criterion: str
    value: Any
    time_spent_ms: int
    revision: int
    hidden: dict[str, Any]
    is_attention_check: bool
    expected: Any
    updated_at: datetime


def create_invite(
    session: Session,
    *,
    study_id: int,
    expires_in: timedelta = timedelta(days=7),
    rater_id: int | None = None,
) -> tuple[Invite, str]:
    """Make a one-time invite link token for a study.

    Args:
        session: Open session; the caller commits.
        study_id: The study the rater is invited to.
        expires_in: How long the token stays valid.
        rater_id: An existing rater the token logs in as; `None` creates one on redemption.

    Returns:
        The invite row and the plain token (only its SHA-256 is stored).
    """
    study = get_study(session, study_id)
    if expires_in <= timedelta(0):
        raise InvalidInput("expires_in must be positive")
    if rater_id is not None:
        get_user(session, rater_id)
    token = secrets.token_urlsafe(32)
    invite = Invite(
        study_id=study.id,
        token_hash=_digest(token),
        rater_id=rater_id,
        expires_at=utcnow() + expires_in,
    )
    session.add(invite)
    session.flush()
    return invite, token


def redeem_invite(session: Session, *, token: str, rater_id: int | None = None) -> tuple[int, int]:
    """Use an invite token once.

    Args:
        session: Open session; the caller commits (and rolls back to leave the invite unused).
        token: The plain token from the link.
        rater_id: A rater who already has an account (the browser already knows them): the
            invite is used for that account instead of a new one.

    Returns:
        (rater user id, study id).

    Raises:
        InviteUsed: The token was used before (it names the rater who used it).
        PermissionDenied: Unknown or expired token, or a closed study.
        Conflict: `rater_id` already has items in the invite's study.
    """
    if not isinstance(token, str) or not 10 <= len(token) <= 200:
        raise PermissionDenied("invalid invite")
    invite = session.scalar(
        select(Invite).where(Invite.token_hash == _digest(token)).with_for_update()
    )
    if invite is None:
        raise PermissionDenied("this invite link is unknown; please check it was copied whole")
    if invite.used_at is not None:
        raise InviteUsed(rater_id=invite.rater_id, study_id=invite.study_id)
    if invite.revoked_at is not None:
        raise PermissionDenied("this invite was withdrawn by the study's admin")
    if invite.expires_at <= utcnow():
        raise PermissionDenied("this invite has expired")
    if get_study(session, invite.study_id).closed_at is not None:
        raise PermissionDenied("this study is closed; thank you for your interest")
    if rater_id is not None and invite.rater_id is None:
        holds = session.scalar(
            select(Assignment.id)
            .where(Assignment.study_id == invite.study_id, Assignment.rater_id == rater_id)
            .limit(1)
        )
        if holds is not None:
            raise Conflict(
                "you already have items in this study; this second invite was left unused for someone else"
            )
        invite.rater_id = get_user(session, rater_id).id
    if invite.rater_id is None:
        invite.rater_id = create_user(
            session, name=f"rater-{invite.study_id}-{invite.id}", role="rater"
        ).id
    invite.used_at = utcnow()
    return invite.rater_id, invite.study_id


def study_ratings(session: Session, *, study_id: int) -> list[RatingRecord]:
    """Every current rating of a study with the hidden item data, for results and export."""
    study = get_study(session, validate.identifier(study_id, field="study_id"))
    rows = session.execute(
        select(Rating, StudyItem)
        .join(StudyItem, Rating.item_id == StudyItem.id)
        .where(StudyItem.study_id == study.id)
        .order_by(Rating.id)
    ).all()
    return [
        RatingRecord(
            rating_id=r.id,
            rater_id=r.rater_id,
            item_id=r.item_id,
            criterion=r.criterion,
            value=r.value,
            time_spent_ms=r.time_spent_ms,
            revision=r.revision,
            hidden=dict(i.hidden),
            is_attention_check=i.is_attention_check,
            expected=(i.expected or {}).get(r.criterion),
            updated_at=r.updated_at,
        )
        for r, i in rows
    ]


def open_invites(session: Session, *, study_id: int) -> int:
    """Invites of a study not yet used, withdrawn or expired."""
    return session.scalar(
        select(func.count()).where(
            Invite.study_id == study_id,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
            Invite.expires_at > utcnow(),
        )
    )


def revoke_invites(session: Session, *, study_id: int, invite_ids: list[int] | None = None) -> int:
    """Withdraw a study's unused invites (all, or the given ids); returns how many."""
    study = get_study(session, study_id)
    query = select(Invite).where(
        Invite.study_id == study.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None)
    )
    if invite_ids is not None:
        query = query.where(Invite.id.in_([validate.identifier(i, field="invite_id") for i in invite_ids]))
    invites = list(session.scalars(query))
    for invite in invites:
        invite.revoked_at = utcnow()
    return len(invites)


def rating_history(session: Session, *, rating_id: int) -> list[RatingRevision]:
    """Earlier answers a rating replaced, oldest first."""
    query = (
        select(RatingRevision)
        .where(RatingRevision.rating_id == rating_id)
        .order_by(RatingRevision.revision)
    )
    return list(session.scalars(query))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

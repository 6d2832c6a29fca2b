"""One-time invite links: the one function behind `invite` and the admin page's Invite raters tab.

An invite is worth sending only while the study has rater slots for it: each unused invite
will claim at least one of the open slots (items times k, less the raters holding or done
with them), so a study with no room left refuses new invites unless forced, and says how
many slots are left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage import (
    InvalidInput,
    StudyFull,
    create_invite,
    get_study,
    open_invites,
    pool,
    release_overdue,
    run_in_transaction,
)

MAX_INVITES = 500


@dataclass(frozen=True)
class Room:
    """How many more raters a study can take."""

    open_slots: int  # rater slots still open over the regular items
    unused_invites: int  # invites out but not yet opened

    @property
    def invites(self) -> int:
        """New invites that can each still find at least one open slot."""
        return max(self.open_slots - self.unused_invites, 0)

    def describe(self) -> str:
        return (f"{_count(self.open_slots, 'open rater slot')} and {_count(self.unused_invites, 'unused invite')}: "
                f"room for {_count(self.invites, 'more invite')}")


@dataclass(frozen=True)
class Invites:
    """Links made, and the room left afterwards."""

    links: list[tuple[int, str]]  # (invite id, link)
    room: Room


def study_room(session: Session, *, study_id: int) -> Room:
    """The open slots and unused invites of a study (items held past their lease are released first)."""
    release_overdue(session, study_id=study_id)
    return Room(pool(session, study_id=study_id).open_slots, open_invites(session, study_id=study_id))


def issue_invites(
    factory: sessionmaker[Session],
    *,
    study_id: int,
    count: int,
    base_url: str,
    days: float = 7.0,
    force: bool = False,
    hint: str = "pass --force to invite anyway",
) -> Invites:
    """Make `count` one-time links to `base_url` for a study; only the tokens' hashes are stored.

    Args:
        factory: Session factory of the study database.
        study_id: The study.
        count: How many links (1 to 500).
        base_url: The rater page's address; each link is `base_url?invite=TOKEN`.
        days: How long the links stay valid.
        force: Make them even when the study has no room for them.
        hint: How the caller's user forces it, added to the refusal.

    Raises:
        StudyFull: The study has fewer open slots than the invites would need (unless `force`).
        PermissionDenied: The study is closed.
        InvalidInput: A count or validity out of range.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INVITES:
        raise InvalidInput(f"the number of invites is from 1 to {MAX_INVITES}, not {count!r}")
    if not days > 0:
        raise InvalidInput(f"invites must stay valid for a positive number of days, not {days!r}")

    def work(session: Session) -> Invites:
        study = get_study(session, study_id)
        if study.closed_at is not None:
            raise StudyFull(f"study {study.id} is closed: reopen it before inviting raters")
        room = study_room(session, study_id=study.id)
        if count > room.invites and not force:
            raise StudyFull(f"study {study.id} cannot use {_count(count, 'more rater')}: {room.describe()}; {hint}")
        made = [create_invite(session, study_id=study.id, expires_in=timedelta(days=days)) for _ in range(count)]
        links = [(invite.id, f"{base_url}?invite={token}") for invite, token in made]
        return Invites(links, Room(room.open_slots, room.unused_invites + count))

    return run_in_transaction(factory, work)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

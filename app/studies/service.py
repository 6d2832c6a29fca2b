"""What raters and admins may do, checked on every call: the UI handlers only delegate here.

Identity travels as a signed, timestamped token (itsdangerous, HMAC over user id and
role; 30 days), so a reload or a visit on another day resumes without trusting anything
the browser says about who it is; a disabled account's tokens stop working at once. Every database call runs in its own transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth import LoginGate
from app.studies.results import QualityRules, StudyResults, study_results
from app.studies.status import StudyStatus, study_status
from app.studies.studies import attention_checks
from storage import (
    Conflict,
    NotFound,
    PermissionDenied,
    RaterItem,
    StudyFull,
    assign_share,
    get_study,
    get_user,
    has_items,
    holdings,
    next_item,
    rater_studies,
    redeem_invite,
    run_in_transaction,
    set_closed,
    submit_answers,
)
from storage.studies import MAX_TIME_SPENT_MS
from storage.study_admin import InviteUsed

TOKEN_DAYS = 30
USED_INVITE = ("This invite link has already been used. If you opened it in another browser, go on rating "
               "there; otherwise please ask the study's admin for a new link.")
FULL_STUDY = ("This study already has all the ratings it needs: every story has its raters, so there is "
              "nothing left for you to rate. Thank you for your interest; your invite was left unused.")


@dataclass(frozen=True)
class Identity:
    """Who is acting: a user id and role, proven by the token's signature."""

    user_id: int
    role: str
    name: str = ""


@dataclass(frozen=True)
class Arrival:
    """What opening an invite link led to."""

    token: str | None  # the identity token to keep (None: nobody is logged in)
    notice: str  # why there is nothing to rate from this link ("" when the rater can go on)


@dataclass
class EvalService:
    """Rater and admin actions over one database.

    Attributes:
        factory: Session factory (`storage.make_sessionmaker`).
        secret: Key that signs identity tokens; a random one per process by default.
    """

    factory: sessionmaker[Session]
    secret: bytes = b""

    def __post_init__(self) -> None:
        self.secret = self.secret or secrets.token_bytes(32)

    # -- identity -------------------------------------------------------------------
    def _signer(self):
        from itsdangerous import URLSafeTimedSerializer

        return URLSafeTimedSerializer(self.secret, salt="cntrl-eval-identity")

    def issue_token(self, identity: Identity, *, days: int = TOKEN_DAYS) -> str:
        """A signed, timestamped token for `identity`, valid for `days`."""
        return self._signer().dumps({"u": identity.user_id, "r": identity.role, "d": days})

    def identify(self, token: str | None) -> Identity:
        """The identity a token proves; `PermissionDenied` if missing, forged, expired or disabled."""
        from itsdangerous import BadSignature, SignatureExpired

        try:
            data = self._signer().loads(str(token), max_age=TOKEN_DAYS * 86400)
            if not isinstance(data, dict) or data.get("d", TOKEN_DAYS) > TOKEN_DAYS:
                raise BadSignature("bad payload")
            who = Identity(int(data["u"]), str(data["r"]))
        except SignatureExpired:
            raise PermissionDenied("your login has expired; please log in again") from None
        except (BadSignature, KeyError, TypeError, ValueError):
            raise PermissionDenied("please log in again") from None
        name = run_in_transaction(self.factory, lambda s: _active(s, who.user_id))
        if name is None:
            raise PermissionDenied("this account is disabled or gone; please ask the study's admin")
        return Identity(who.user_id, who.role, name)

    def login(self, *, name: str, password: str, client: str | None = None) -> str:
        """Check a name and password behind the login throttle; returns an identity token.

        Raises:
            PermissionDenied: A wrong name or password.
            LockedOut: Too many failures for this name or client; says for how long.
        """
        user = LoginGate(self.factory).login(name, password, client)
        return self.issue_token(Identity(user.id, user.role))

    def redeem(self, *, invite: str, current: str | None = None) -> tuple[str, int]:
        """Use a one-time invite link and hand the rater their share of the study's open items.

        Args:
            invite: The token from the link.
            current: The identity token the browser already holds, if any: a rater keeps
                one account across studies, and a second invite to the same study is refused
                and left unused.

        Returns:
            (identity token, study id).

        Raises:
            PermissionDenied: A bad, used or expired invite, or a closed study.
            Conflict: The browser's rater already has items in this study.
            StudyFull: Every item already has its k raters (the invite stays unused).
        """
        known = None
        if current:
            try:
                who = self.identify(current)
                known = who.user_id if who.role == "rater" else None
            except PermissionDenied:
                known = None

        def work(session: Session) -> tuple[int, int]:
            rater_id, study_id = redeem_invite(session, token=invite, rater_id=known)
            assign_share(session, study_id=study_id, rater_id=rater_id, make_checks=attention_checks)
            return rater_id, study_id

        rater_id, study_id = run_in_transaction(self.factory, work)
        return self.issue_token(Identity(rater_id, "rater")), study_id

    def arrive(self, *, invite: str, current: str | None = None) -> Arrival:
        """Open an invite link as a person would: go on rating, or a plain reason why not.

        A link opened again by the rater who used it resumes their work without complaint;
        anyone else, a full study's invitee, or a refused link gets only the reason.
        """
        try:
            return Arrival(self.redeem(invite=invite, current=current)[0], "")
        except InviteUsed as used:
            mine = self._who(current)
            return Arrival(current, "") if mine and mine.user_id == used.rater_id else Arrival(current, USED_INVITE)
        except StudyFull:
            return Arrival(current, FULL_STUDY)
        except (PermissionDenied, Conflict) as error:
            return Arrival(current, _sentence(str(error)))

    def _who(self, token: str | None) -> Identity | None:
        try:
            return self.identify(token) if token else None
        except PermissionDenied:
            return None

    # -- rater ----------------------------------------------------------------------
    def my_studies(self, token: str) -> list[tuple[int, str]]:
        """(id, name) of the studies with items for this user."""
        who = self.identify(token)
        return run_in_transaction(self.factory, lambda s: rater_studies(s, rater_id=who.user_id))

    def instructions(self, token: str, *, study_id: int) -> str:
        """The study's instructions, for a rater who has items in it."""
        self._require_assigned(self.identify(token), study_id)
        return run_in_transaction(self.factory, lambda s: get_study(s, study_id).instructions)

    def current_item(self, token: str, *, study_id: int) -> RaterItem | None:
        """This rater's next item (their own order), or `None` when they are done."""
        who = self.identify(token)
        self._require_assigned(who, study_id)

        def work(session: Session) -> RaterItem | None:
            if get_study(session, study_id).closed_at is not None:
                raise PermissionDenied("this study is closed; thank you for your help")
            return next_item(session, study_id=study_id, rater_id=who.user_id)

        return run_in_transaction(self.factory, work)

    def progress(self, token: str, *, study_id: int) -> tuple[int, int]:
        """(done, total) of this rater's items in a study (items released past their lease not counted)."""
        who = self.identify(token)
        self._require_assigned(who, study_id)
        mine = run_in_transaction(self.factory, lambda s: [
            h.completed for h in holdings(s, study_id=study_id) if h.rater_id == who.user_id and not h.released])
        return sum(mine), len(mine)

    def submit(
        self, token: str, *, item_id: int, answers: Mapping[str, Any], time_spent_ms: int
    ) -> None:
        """Record answers to every criterion of one item, all or nothing.

        Raises:
            InvalidInput: A criterion without an answer, or an answer out of range.
            PermissionDenied: A bad token, or an item not assigned to this rater.
        """
        who = self.identify(token)
        if item_id is None:
            raise PermissionDenied("there is no item to answer: you have rated every item")
        spent = max(0, min(int(time_spent_ms), MAX_TIME_SPENT_MS))
        run_in_transaction(self.factory, lambda s: submit_answers(
            s, rater_id=who.user_id, item_id=item_id, answers=answers, time_spent_ms=spent))

    def _require_assigned(self, who: Identity, study_id: int) -> None:
        if not run_in_transaction(self.factory, lambda s: has_items(s, study_id=study_id, rater_id=who.user_id)):
            raise PermissionDenied("you have no items in this study")

    # -- admin ----------------------------------------------------------------------
    def require_admin(self, token: str | None) -> Identity:
        """The admin identity behind `token`, or `PermissionDenied`."""
        who = self.identify(token)
        user = run_in_transaction(self.factory, lambda s: get_user(s, who.user_id))
        if user.disabled_at is not None:
            raise PermissionDenied("this account is disabled")
        if user.role != "admin":
            raise PermissionDenied("only admins can see studies and results")
        return who

    def status(self, token: str, *, study_id: int, rules: QualityRules | None = None) -> StudyStatus:
        """How a study is running, for admins only."""
        self.require_admin(token)
        return run_in_transaction(
            self.factory,
            lambda s: study_status(s, study_id=study_id, rules=rules or QualityRules()),
        )

    def set_closed(self, token: str, *, study_id: int, closed: bool) -> StudyStatus:
        """Close or reopen a study (admins only); returns its status afterwards."""
        self.require_admin(token)
        run_in_transaction(
            self.factory, lambda s: set_closed(s, study_id=study_id, closed=closed)
        )
        return self.status(token, study_id=study_id)

    def results(
        self,
        token: str,
        *,
        study_id: int,
        rules: QualityRules | None = None,
        n_resamples: int = 1000,
    ) -> StudyResults:
        """A study's results, for admins only."""
        self.require_admin(token)
        return run_in_transaction(
            self.factory,
            lambda s: study_results(
                s, study_id=study_id, rules=rules or QualityRules(), n_resamples=n_resamples
            ),
        )


def _active(session: Session, user_id: int) -> str | None:
    """The account's name when it exists and is not disabled, else `None`."""
    try:
        user = get_user(session, user_id)
    except NotFound:
        return None
    return user.name if user.disabled_at is None else None


def _sentence(text: str) -> str:
    """An error message as a sentence: capitalised, with a full stop."""
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")) if text else text

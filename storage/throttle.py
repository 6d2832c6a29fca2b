"""Login throttling shared by every app process: failures are counted in the database.

Each attempt is counted under two keys, the name (`name:ann`) and the client
(`client:127.0.0.1`). After `slow_after` consecutive failures a key's next attempts are
answered only after a delay that grows with each failure; after `lock_after` failures the
key is locked for `lock_s` seconds, during which even the right password is refused, with
a message that says so. A success clears the name's count (a client's count only decays,
so one good account cannot launder guesses at others).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.errors import PermissionDenied
from storage.models import Base, utcnow

log = logging.getLogger(__name__)


class LoginFailures(Base):
    """Consecutive failed logins under one key (a name or a client address)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LockedOut(PermissionDenied):
    """Too many failed logins: refused for a while, whatever the password."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LoginPolicy:
    """When logins slow down and lock, per name and per client."""

    slow_after: int = 3  # failures before answers are delayed
    delay_s: float = 0.5  # the delay per failure beyond slow_after
    max_delay_s: float = 4.0
    lock_after: int = 10  # failures for one name that lock it
    lock_s: float = 60.0
    client_lock_after: int = 30  # failures from one client (over any names) that lock it
    forget_after_s: float = 3600.0  # a key's count restarts after this long without a failure


def name_key(name: str) -> str:
    return "name:" + str(name).strip().lower()[:150]


def client_key(client: str | None) -> str | None:
    return "client:" + client[:150] if client else None


def check_allowed(session: Session, *, name: str, client: str | None, policy: LoginPolicy,
                  now: datetime | None = None) -> float:
    """Raise `LockedOut` while the name or client is locked; else the delay to apply (seconds)."""
    now = now or utcnow()
    delay = 0.0
    for key in filter(None, (name_key(name), client_key(client))):
        row = session.get(LoginFailures, key)
        if row is None:
            continue
        if row.locked_until is not None and row.locked_until > now:
            wait = math.ceil((row.locked_until - now).total_seconds())
            who = f"the name {name!r}" if key.startswith("name:") else "this address"
            raise LockedOut(f"too many failed logins for {who}; logins are refused for {wait} more seconds",
                            wait)
        fresh = (now - row.updated_at).total_seconds() < policy.forget_after_s
        if fresh and row.failures >= policy.slow_after:
            delay = max(delay, min(policy.delay_s * (row.failures - policy.slow_after + 1), policy.max_delay_s))
    return delay


def record_failure(session: Session, *, name: str, client: str | None, policy: LoginPolicy,
                   now: datetime | None = None) -> None:
    """Count one failed login under the name and the client; lock a key that reaches its limit."""
    now = now or utcnow()
    for key, limit in ((name_key(name), policy.lock_after), (client_key(client), policy.client_lock_after)):
        if key is None:
            continue
        row = _row(session, key)
        if (now - row.updated_at).total_seconds() >= policy.forget_after_s:
            row.failures = 0
        row.failures += 1
        row.updated_at = now
        if row.failures % limit == 0:
            row.locked_until = now + timedelta(seconds=policy.lock_s)
            log.warning("login locked for %s after %d failed attempts (%.0f s)", key, row.failures, policy.lock_s)


def record_success(session: Session, *, name: str) -> None:
    """A right password outside a lock: the name starts again from zero."""
    row = session.get(LoginFailures, name_key(name))
    if row is not None:
        session.delete(row)


def _row(session: Session, key: str) -> LoginFailures:
    row = session.scalar(select(LoginFailures).where(LoginFailures.key == key).with_for_update())
    if row is not None:
        return row
    row = LoginFailures(key=key, failures=0, updated_at=utcnow())
    try:
        with session.begin_nested():  # another process may insert the same key at once
            session.add(row)
            session.flush()
    except IntegrityError:
        row = session.scalar(select(LoginFailures).where(LoginFailures.key == key).with_for_update())
    return row

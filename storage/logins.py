"""Login sessions and shared settings, so every app process knows every login.

A logged-in browser holds a random token in a cookie. Keeping the tokens in the
database (as SHA-256 digests, never the token itself) lets any app process that shares
the database accept a login made on another one; `AppSetting` holds the few values the
processes must agree on, such as the cookie's name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import String, Text, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, utcnow

LOGIN_DAYS = 30


class LoginSession(Base):
    """One browser's login: the digest of its token, the account name, and when it ends."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AppSetting(Base):
    """A value every app process on this database shares."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def shared_setting(session: Session, *, key: str, make: Callable[[], str]) -> str:
    """The setting's value; the first process to ask stores `make()` for all."""
    found = session.get(AppSetting, key)
    if found is not None:
        return found.value
    try:
        with session.begin_nested():
            session.add(AppSetting(key=key, value=make()))
    except IntegrityError:  # another process stored it first
        pass
    return session.get(AppSetting, key, populate_existing=True).value


def save_login(session: Session, *, token: str, user_name: str, days: float = LOGIN_DAYS) -> None:
    """Remember a new login (and forget the logins that have run out)."""
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    session.merge(LoginSession(token_hash=token_digest(token), user_name=user_name, created_at=now,
                               expires_at=now + timedelta(days=days)))


def login_name(session: Session, *, token_hash: str) -> str | None:
    """The account a live login belongs to, or None."""
    found = session.get(LoginSession, token_hash)
    return found.user_name if found is not None and found.expires_at > utcnow() else None


def login_digests(session: Session) -> list[str]:
    """The digests of every live login."""
    return list(session.scalars(select(LoginSession.token_hash).where(LoginSession.expires_at > utcnow())))


def drop_login(session: Session, *, token_hash: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))

"""Accounts: writers, raters and admins, with argon2 password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import validate
from storage.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from storage.models import ROLES, User, utcnow

LOCAL_USER_NAME = "local"
MAX_PASSWORD = 1024
_hasher = PasswordHasher()


def create_user(
    session: Session, *, name: str, password: str | None = None, role: str = "writer"
) -> User:
    """Create an account.

    Args:
        session: Open session; the caller commits.
        name: Unique login name (1-100 characters).
        password: Plain password, stored only as an argon2 hash; `None` for an
            account that cannot log in with a password (the local user).
        role: "writer", "rater" or "admin".

    Returns:
        The new user, flushed so it has an id.

    Raises:
        Conflict: The name is taken.
        InvalidInput: A malformed name, password or role.
    """
    name = validate.text(name, field="name", limit=validate.MAX_NAME).strip()
    validate.choice(role, field="role", options=ROLES)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"user name {name!r} is taken")
    user = User(name=name, role=role, password_hash=None if password is None else _hash(password))
    try:
        with session.begin_nested():  # a concurrent insert of the same name loses cleanly
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(f"user name {name!r} is taken") from None
    return user


def get_user(session: Session, user_id: int) -> User:
    """Return a user by id, or raise `NotFound`."""
    user = session.get(User, validate.identifier(user_id, field="user_id"))
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def get_user_by_name(session: Session, name: str) -> User:
    """Return a user by login name, or raise `NotFound`."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def authenticate(session: Session, *, name: str, password: str) -> User:
    """Check a name and password.

    Args:
        session: Open session; a rehash under newer argon2 settings is written to it.
        name: Login name.
        password: Plain password.

    Returns:
        The user, when the password matches.

    Raises:
        PermissionDenied: Unknown name or wrong password (the message does not say which).
    """
    user = session.scalar(select(User).where(User.name == name))
    if user is None or user.password_hash is None or not isinstance(password, str):
        _hasher.hash("timing-equaliser")  # an unknown name costs as much as a wrong password
        raise PermissionDenied("wrong name or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise PermissionDenied("wrong name or password") from None
    if user.disabled_at is not None:  # said only to someone who knows the password
        raise PermissionDenied(f"the account {name!r} is disabled; an admin can enable it again")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hash(password)
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def set_disabled(session: Session, *, name: str, disabled: bool = True) -> User:
    """Disable an account (it can no longer log in; its stories and ratings stay) or enable it again."""
    user = get_user_by_name(session, name)
    user.disabled_at = (user.disabled_at or utcnow()) if disabled else None  # disabling twice keeps the first time
    return user


def import_password_hashes(session: Session, hashes: dict[str, str], *, role: str = "writer") -> list[str]:
    """Accounts for names that have none yet, keeping their existing argon2 hashes (an old auth file).

    Returns:
        The names that were added; names that already have an account are left as they are.
    """
    added = []
    for name, digest in hashes.items():
        if not digest.startswith("$argon2"):
            raise InvalidInput(f"the password of {name!r} is not an argon2 hash")
        if session.scalar(select(User.id).where(User.name == name)) is None:
            user = create_user(session, name=name, role=role)
            user.password_hash = digest
            added.append(name)
    return added


def set_password(session: Session, *, user_id: int, password: str) -> None:
    """Replace a user's password."""
    get_user(session, user_id).password_hash = _hash(password)


def get_or_create_local_user(session: Session, *, name: str = LOCAL_USER_NAME) -> User:
    """The single user the app acts as when it runs without accounts.

    Args:
        session: Open session; the caller commits.
        name: Name of the local account.

    Returns:
        The existing user of that name, or a new password-less writer.
    """
    user = session.scalar(select(User).where(User.name == name))
    if user is not None:
        return user
    try:
        return create_user(session, name=name, role="writer")
    except Conflict:  # another process created it a moment ago
        return get_user_by_name(session, name)


def _hash(password: str) -> str:
    """Argon2id hash of a password after checking its shape."""
    if not isinstance(password, str) or not password:
        raise InvalidInput("password must be a non-empty string")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise InvalidInput("password is too long or contains a NUL byte")
    return _hasher.hash(password)

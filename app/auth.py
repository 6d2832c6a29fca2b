"""Editor logins: database accounts (writers and admins), and the older auth file they replace.

Accounts live in the database with every other user (`python -m app users add NAME` or
`python -m app.evaluation users add NAME`). An auth file of `name:argon2-hash` lines, as
earlier versions wrote, is imported once at start-up, hashes and all, so nobody is locked out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MAX_NAME = 100


def read_auth_file(path: str | os.PathLike) -> dict[str, str]:
    """name -> argon2 hash; blank lines and `#` comments are skipped."""
    users: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, digest = line.partition(":")
        if not sep or not name.strip() or not digest.startswith("$argon2"):
            raise ValueError(f"{path}:{number}: expected 'name:$argon2...' (write it with: python -m app users add NAME)")
        users[name.strip()] = digest.strip()
    if not users:
        raise ValueError(f"{path} has no users; add one with: python -m app users add NAME --auth-file {path}")
    return users


def add_user(path: str | os.PathLike, name: str, password: str) -> None:
    """Add or replace `name` in the auth file with an argon2id hash of `password`."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or ":" in name or any(c.isspace() for c in name):
        raise ValueError("a user name is 1-100 characters without spaces or ':'")
    if not password:
        raise ValueError("the password is empty")
    file = Path(path)
    users = read_auth_file(file) if file.exists() and file.read_text(encoding="utf-8").strip() else {}
    users[name] = _hasher.hash(password)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("".join(f"{n}:{h}\n" for n, h in users.items()), encoding="utf-8")
    file.chmod(0o600)


def checker(users: dict[str, str]) -> Callable[[str, str], bool]:
    """A Gradio `auth=` callable that verifies against the hashes."""
    def check(name: str, password: str) -> bool:
        digest = users.get(name)
        if digest is None or not isinstance(password, str):
            _hasher.hash("timing-equaliser")  # an unknown name costs as much as a wrong password
            return False
        try:
            return _hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False
    return check


EDITOR_ROLES = ("writer", "admin")


def database_checker(factory, *, roles: tuple[str, ...] = EDITOR_ROLES) -> Callable[[str, str], bool]:
    """A Gradio `auth=` callable that checks the database's accounts (disabled ones refused)."""
    from storage import StorageError, authenticate, run_in_transaction

    def check(name: str, password: str) -> bool:
        try:
            user = run_in_transaction(factory, lambda s: authenticate(s, name=name, password=password))
        except StorageError:
            return False
        return user.role in roles
    return check


def import_auth_file(factory, path: str | os.PathLike) -> list[str]:
    """Accounts for the auth file's names that have none yet; returns the names added."""
    from storage import import_password_hashes, run_in_transaction

    hashes = read_auth_file(path)
    return run_in_transaction(factory, lambda s: import_password_hashes(s, hashes, role="writer"))

"""Editor logins: database accounts (writers and admins), and the older auth file they replace.

Accounts live in the database with every other user (`python -m app users add NAME`,
with the role writer, rater or admin). An auth file of `name:argon2-hash` lines, as
earlier versions wrote, is imported once at start-up, hashes and all, so nobody is locked out.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.throttle import LoginPolicy
from storage.validate import MAX_NAME

_hasher = PasswordHasher()


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
        raise ValueError(f"a user name is 1-{MAX_NAME} characters without spaces or ':'")
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


def import_auth_file(factory, path: str | os.PathLike) -> list[str]:
    """Accounts for the auth file's names that have none yet; returns the names added."""
    from storage import import_password_hashes, run_in_transaction

    hashes = read_auth_file(path)
    return run_in_transaction(factory, lambda s: import_password_hashes(s, hashes, role="writer"))


CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("login_client", default=None)


@dataclass
class LoginGate:
    """Password checks behind the database's throttle (`storage.throttle`): slowed, then locked."""

    factory: Any
    policy: LoginPolicy = field(default_factory=LoginPolicy)

    def delay_for(self, name: str, client: str | None) -> float:
        """Seconds to wait before checking this attempt; `LockedOut` while locked."""
        from storage import run_in_transaction
        from storage.throttle import check_allowed

        return run_in_transaction(
            self.factory, lambda s: check_allowed(s, name=name, client=client, policy=self.policy)
        )

    def verify(self, name: str, password: str, client: str | None):
        """The user, or `PermissionDenied`; a failure is counted, a success clears the name's count."""
        from storage import PermissionDenied, authenticate, run_in_transaction
        from storage.throttle import record_failure, record_success

        try:
            user = run_in_transaction(self.factory, lambda s: authenticate(s, name=name, password=password))
        except PermissionDenied:
            run_in_transaction(
                self.factory, lambda s: record_failure(s, name=name, client=client, policy=self.policy)
            )
            raise
        run_in_transaction(self.factory, lambda s: record_success(s, name=name))
        return user

    def login(self, name: str, password: str, client: str | None = None):
        """Wait the throttle's delay, then check (for code that runs in a worker thread)."""
        from storage import PermissionDenied

        if not (_is_text(name) and _is_text(password)):  # no account has it; the database could not even look
            raise PermissionDenied("wrong name or password")
        time.sleep(self.delay_for(name, client))
        return self.verify(name, password, client)


def _is_text(value) -> bool:
    """A string that UTF-8 can carry (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def database_checker(factory, *, roles: tuple[str, ...] = EDITOR_ROLES, policy: LoginPolicy | None = None):
    """A Gradio `auth=` coroutine over the database's accounts, throttled per name and per client.

    A locked name or client gets HTTP 429 with a message that says how long the lock lasts
    (and a Retry-After header); the delay before slowed answers does not block the server.
    """
    from fastapi import HTTPException

    from storage import StorageError
    from storage.throttle import LockedOut

    gate = LoginGate(factory, policy or LoginPolicy())

    async def check(name: str, password: str) -> bool:
        client = CLIENT.get()
        try:
            await asyncio.sleep(await asyncio.to_thread(gate.delay_for, name, client))
            user = await asyncio.to_thread(gate.verify, name, password, client)
        except LockedOut as error:
            raise HTTPException(status_code=429, detail=str(error),
                                headers={"Retry-After": str(error.retry_after_s)}) from None
        except StorageError:
            return False
        return user.role in roles
    return check


def remember_client(server) -> None:
    """Middleware that makes each request's client address visible to the login check."""

    @server.middleware("http")
    async def client_address(request, call_next):
        token = CLIENT.set(request.client.host if request.client else None)
        try:
            return await call_next(request)
        finally:
            CLIENT.reset(token)


class SharedLogins(MutableMapping):
    """Gradio's map of login tokens to account names, kept in the database (`storage.logins`).

    Gradio keeps this map in the serving process's memory, so a login made on one app
    process is unknown to another. With this map every process sharing the database
    accepts it. Tokens are stored as SHA-256 digests; iterating yields the digests with
    a `sha256:` prefix, which the other methods accept in place of a token (Gradio's
    "log out everywhere" walks the map that way).
    """

    PREFIX = "sha256:"

    def __init__(self, factory) -> None:
        self.factory = factory

    def _run(self, work):
        from storage import run_in_transaction

        return run_in_transaction(self.factory, work)

    def _digest(self, key: object) -> str:
        from storage import token_digest

        if not isinstance(key, str) or not key:
            raise KeyError(key)
        return key[len(self.PREFIX):] if key.startswith(self.PREFIX) else token_digest(key)

    def __getitem__(self, key: object) -> str:
        from storage import login_name

        digest = self._digest(key)
        name = self._run(lambda s: login_name(s, token_hash=digest))
        if name is None:
            raise KeyError(key)
        return name

    def __setitem__(self, key: str, user_name: str) -> None:
        from storage import save_login

        self._run(lambda s: save_login(s, token=key, user_name=user_name))

    def __delitem__(self, key: object) -> None:
        from storage import drop_login

        digest = self._digest(key)
        self._run(lambda s: drop_login(s, token_hash=digest))

    def __iter__(self) -> Iterator[str]:
        from storage import login_digests

        return iter([self.PREFIX + d for d in self._run(login_digests)])

    def __len__(self) -> int:
        return len(list(iter(self)))


def share_logins(server, factory, *, path: str = "") -> None:
    """Make the Gradio page mounted at `path` on `server` keep its logins in the database.

    Every process on the database then names the login cookie alike (a shared random
    cookie id) and accepts every login, so writers can be spread over app processes.
    """
    import secrets

    from starlette.routing import Mount

    from storage import run_in_transaction, shared_setting

    mounted = [r.app for r in server.routes if isinstance(r, Mount) and r.path == path]
    if not mounted:
        raise ValueError(f"no Gradio page is mounted at {path!r}")
    page = mounted[0]
    page.cookie_id = run_in_transaction(
        factory, lambda s: shared_setting(s, key="editor_cookie_id", make=lambda: secrets.token_urlsafe(32)))
    page.tokens = SharedLogins(factory)

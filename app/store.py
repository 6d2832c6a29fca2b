"""The sessions database as the app sees it: transactions, users, and error translation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.errors import AppError, StoryNotFound
from storage import (
    NotFound,
    PermissionDenied,
    StorageError,
    get_or_create_local_user,
    make_engine,
    make_sessionmaker,
    run_in_transaction,
    upgrade,
)

T = TypeVar("T")


@dataclass
class Store:
    """A session factory plus the translation of storage refusals into page messages."""

    factory: sessionmaker[Session]

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Connect to `url` (default: CNTRL_DATABASE_URL, else data/stories.db) and migrate."""
        engine = make_engine(url)
        upgrade(engine=engine)
        return cls(make_sessionmaker(engine))

    def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction; storage refusals become `AppError`s."""
        with translated_errors():
            return run_in_transaction(self.factory, work)

    def user_id(self, name: str) -> int:
        """The id of the writer called `name`, created on first use."""
        return self.run(lambda s: get_or_create_local_user(s, name=name).id)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Another user's story and a missing one give the same message, so ids cannot be probed."""
    try:
        yield
    except (NotFound, PermissionDenied):
        raise StoryNotFound("no such story for this account") from None
    except StorageError as error:
        raise AppError(str(error)) from None


def parse_story_id(text: str | int | None) -> int:
    """A story id from a URL or API argument; anything else reads as an unknown story."""
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        raise StoryNotFound("no such story for this account") from None
    if value <= 0:
        raise StoryNotFound("no such story for this account")
    return value

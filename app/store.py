"""The sessions database as the app sees it: transactions, users, and error translation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.errors import AppError, DatabaseUnavailable, StoryNotFound
from storage import (
    NotFound,
    PermissionDenied,
    StorageError,
    get_or_create_local_user,
    make_engine,
    make_sessionmaker,
    run_in_transaction,
    upgrade,
    validate,
)
from storage.errors import one_line

T = TypeVar("T")


@dataclass
class Store:
    """A session factory plus the translation of storage refusals into page messages."""

    factory: sessionmaker[Session]

    @classmethod
    def open(cls, url: str | None = None, *, data_dir: str | None = None) -> Store:
        """Connect to `url` (default: CNTRL_DATABASE_URL, else stories.db in `data_dir`, whose
        default is $CNTRL_DATA_DIR, else data/) and migrate."""
        engine = make_engine(url, data_dir=data_dir)
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
    except (OperationalError, InterfaceError) as error:  # lock waits were already retried by run_in_transaction
        raise database_failure(error) from None


def database_failure(error: Exception) -> DatabaseUnavailable:
    """A stopped, full or read-only database as one line for the page; the transaction was rolled back."""
    detail = one_line(error)
    lowered = detail.lower()
    if "full" in lowered:
        state, advice = "is full", "free some disk space, then try again"
    elif "readonly" in lowered or "read-only" in lowered:
        state, advice = "is read-only", "make it writable, then try again"
    else:
        state, advice = "does not answer", "try again when it is back"
    return DatabaseUnavailable(f"the story database {state} ({detail}); nothing of this action was saved, "
                               f"everything saved before is kept; {advice}")


def parse_id(text: str | int | None) -> int | None:
    """An id as a page or script sends it ("12", 12), or None when it is none the database could hold."""
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= validate.MAX_ID else None


def required_id(text: str | int | None, refusal: AppError) -> int:
    """An id as `parse_id` reads it; anything else raises `refusal`."""
    value = parse_id(text)
    if value is None:
        raise refusal
    return value


def parse_story_id(text: str | int | None) -> int:
    """A story id from a URL or API argument; anything else reads as an unknown story."""
    return required_id(text, StoryNotFound("no such story for this account"))

"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite is opened in WAL mode with foreign keys on and a busy timeout, and every
transaction starts with `BEGIN IMMEDIATE`: a writer takes the write lock up
front and waits for it (up to the busy timeout) instead of failing half-way when
a read turns into a write.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.config import database_url

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLSTATEs PostgreSQL uses for "try the transaction again".
_PG_RETRY_CODES = {"40001", "40P01"}


def make_engine(url: str | None = None, *, echo: bool = False, data_dir: str | Path | None = None,
                **kwargs: Any) -> Engine:
    """Create an engine for the resolved database URL.

    Args:
        url: SQLAlchemy URL; `None` resolves it through `storage.config.database_url`.
        echo: Log every SQL statement.
        data_dir: The data directory holding the default SQLite file (when `url` and
            `CNTRL_DATABASE_URL` name none).
        **kwargs: Passed on to `sqlalchemy.create_engine`.

    Returns:
        An engine; SQLite engines are configured for WAL and concurrent writers.
    """
    resolved = make_url(database_url(url, folder=data_dir))
    if resolved.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(resolved, echo=echo, **kwargs)
    if resolved.database and resolved.database != ":memory:" and "uri" not in resolved.query:
        # a `file:...?mode=ro&uri=true` URL names no folder to create (it would appear as "file:/...")
        Path(resolved.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, **kwargs.pop("connect_args", {})}
    engine = create_engine(resolved, echo=echo, connect_args=connect_args, **kwargs)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Install the pragmas and the immediate-transaction hook on a SQLite engine."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def is_transient(error: BaseException) -> bool:
    """True for errors that a retry of the whole transaction can cure."""
    if not isinstance(error, DBAPIError):
        return False
    code = getattr(error.orig, "sqlstate", None)
    if code in _PG_RETRY_CODES:
        return True
    message = str(error.orig).lower()
    return isinstance(error, OperationalError) and (
        "database is locked" in message or "database is busy" in message
    )


def run_in_transaction(
    factory: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    attempts: int = 8,
) -> T:
    """Run `work(session)` in one transaction, retrying transient lock errors.

    Args:
        factory: Session factory from `make_sessionmaker`.
        work: Function doing the reads and writes; called again on a retry, so it
            should have no side effects outside the session.
        attempts: How many times to try before the error reaches the caller.

    Returns:
        Whatever `work` returns, after the commit succeeded.
    """
    for attempt in range(1, attempts + 1):
        try:
            with factory.begin() as session:
                return work(session)
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0) * random.random())
    raise AssertionError("unreachable")


def ping(session: Session) -> None:
    """Run `SELECT 1`: raises when the database does not answer (readiness checks)."""
    session.execute(text("SELECT 1"))

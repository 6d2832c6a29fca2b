"""Database URL resolution and the SQLite connection settings."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from storage import (
    User,
    create_user,
    database_url,
    make_engine,
    make_sessionmaker,
    run_in_transaction,
)
from storage.db import is_transient


def test_url_order_is_argument_then_env_then_data_dir(tmp_path, monkeypatch):
    assert database_url() == f"sqlite:///{tmp_path / 'data' / 'stories.db'}"
    monkeypatch.setenv("CNTRL_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_default_engine_is_a_wal_sqlite_file_in_the_data_dir(tmp_path):
    engine = make_engine()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.commit()
    engine.dispose()
    assert (tmp_path / "data" / "stories.db").exists()


def _locked() -> OperationalError:
    return OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))


def test_transient_errors_are_retried_and_others_are_not(engine):
    factory = make_sessionmaker(engine)
    calls: list[int] = []

    def flaky(session):
        calls.append(1)
        if len(calls) < 3:
            raise _locked()
        create_user(session, name=f"u{len(calls)}")
        return len(calls)

    assert run_in_transaction(factory, flaky) == 3
    with factory() as session:
        assert session.scalar(select(User.name)) == "u3"

    def broken(session):
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(OperationalError, match="no such table"):
        run_in_transaction(factory, broken)
    assert is_transient(_locked()) and not is_transient(ValueError("database is locked"))

"""Fixtures for storage tests: a fresh, migrated database per test, SQLite and PostgreSQL.

PostgreSQL tests run when `CNTRL_TEST_PG_URL` is set (`scripts/postgres.sh`
prints it); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from storage import create_user, make_engine, make_sessionmaker, upgrade

PG_ENV = "CNTRL_TEST_PG_URL"
PG_SKIP = f"{PG_ENV} is not set; run `eval \"export $(bash scripts/postgres.sh)\"` first"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch) -> None:
    """Point the data directory at the test's folder and forget any database URL."""
    monkeypatch.setenv("CNTRL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNTRL_DATABASE_URL", raising=False)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh, empty PostgreSQL schema."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stories.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    engine = make_engine(db_url, pool_size=12, max_overflow=4)
    upgrade(engine=engine)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine) -> sessionmaker[Session]:
    """Session factory on the migrated database."""
    return make_sessionmaker(engine)


@pytest.fixture
def session(factory) -> Iterator[Session]:
    """One open transaction, committed at the end of the test if it is still good."""
    with factory.begin() as session:
        yield session


@pytest.fixture
def users(factory) -> dict[str, int]:
    """Two writers and three raters, committed; name -> id."""
    with factory.begin() as session:
        made = {name: create_user(session, name=name, role=role) for name, role in [
            ("ann", "writer"), ("bob", "writer"), ("rita", "rater"), ("raj", "rater"), ("rosa", "rater"),
        ]}
        return {name: user.id for name, user in made.items()}

"""Fixtures for storage tests: a fresh, migrated database per test, SQLite and PostgreSQL.

PostgreSQL tests run when `CNTRL_TEST_PG_URL` is set (`scripts/postgres.sh`
prints it); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

import storage.study_models  # noqa: F401  (evaluation tables are truncated too)
from storage import Base, create_user, make_engine, make_sessionmaker, upgrade

PG_ENV = "CNTRL_TEST_PG_URL"
PG_SKIP = f'{PG_ENV} is not set; run `eval "export $(bash scripts/postgres.sh)"` first'

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch) -> None:
    """Point the data directory at the test's folder and forget any database URL."""
    monkeypatch.setenv("CNTRL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNTRL_DATABASE_URL", raising=False)


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """A URL whose connections use a new, empty PostgreSQL schema, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """An empty PostgreSQL schema for one test."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """An empty, unmigrated database on each backend (for migration tests)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stories.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "stories.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine=engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name("stories.db-wal").exists()
    return path


@pytest.fixture(scope="session")
def pg_migrated_url() -> Iterator[str]:
    """One PostgreSQL schema migrated to head for the whole run; emptied per test."""
    with _fresh_schema() as url:
        engine = make_engine(url)
        upgrade(engine=engine)
        engine.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path) -> Iterator[Engine]:
    """An engine on an empty database migrated to head."""
    if request.param == "sqlite":
        path = tmp_path / "stories.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_migrated_url")
    engine = make_engine(url, pool_size=12, max_overflow=4)
    if request.param == "postgres":
        _empty_tables(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    """Remove every row and reset the id counters (alembic_version is kept)."""
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


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
        made = {
            name: create_user(session, name=name, role=role)
            for name, role in [
                ("ann", "writer"),
                ("bob", "writer"),
                ("rita", "rater"),
                ("raj", "rater"),
                ("rosa", "rater"),
            ]
        }
        return {name: user.id for name, user in made.items()}

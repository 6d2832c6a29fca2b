"""Fixtures for evaluation tests: a migrated SQLite database per test, an admin and raters."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage import create_user, make_engine, make_sessionmaker, upgrade


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch) -> Path:
    """An empty data directory of the test's own, and no knowledge base override."""
    monkeypatch.setenv("CNTRL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNTRL_KB", raising=False)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("eval-template") / "eval.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine=engine)
    engine.dispose()
    return path


@pytest.fixture
def db_url(migrated_template, tmp_path) -> str:
    """URL of this test's own migrated database."""
    path = tmp_path / "eval.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def people(factory) -> dict[str, int]:
    """One admin ("ada") and four raters ("r1".."r4"), password "pw-<name>"; name -> id."""
    names = [("ada", "admin"), ("r1", "rater"), ("r2", "rater"), ("r3", "rater"), ("r4", "rater")]
    with factory.begin() as session:
        made = {n: create_user(session, name=n, password=f"pw-{n}", role=r) for n, r in names}
        return {n: u.id for n, u in made.items()}

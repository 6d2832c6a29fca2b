"""Schema migrations with Alembic, configured in code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs against `engine` (its pragmas included)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(url: str | None = None, *, revision: str = "head", engine: Engine | None = None) -> str:
    """Migrate a database up to `revision`, creating the schema from empty.

    Args:
        url: Database URL (resolved like every storage URL when `None`).
        revision: Target revision id, or "head" for the newest.
        engine: An existing engine to use instead of `url`.

    Returns:
        The revision the database is at afterwards.
    """
    engine = engine or make_engine(url)
    command.upgrade(alembic_config(engine), revision)
    return current_revision(engine)


def downgrade(url: str | None = None, *, revision: str, engine: Engine | None = None) -> str:
    """Migrate a database down to `revision` ("base" removes every table)."""
    engine = engine or make_engine(url)
    command.downgrade(alembic_config(engine), revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str:
    """The revision the database is at, or "base" for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() or "base"


def head_revision() -> str:
    """The newest revision shipped with this code."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head() or "base"

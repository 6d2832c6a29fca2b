"""Alembic environment: runs migrations on the engine `storage.migrate` passes in."""

from __future__ import annotations

from alembic import context

import storage.leases  # noqa: F401  (registers the writing-lease table)
import storage.logins  # noqa: F401  (registers the login-session and settings tables)
import storage.study_models  # noqa: F401  (registers the evaluation tables)
import storage.throttle  # noqa: F401  (registers the login-failure table)
import storage.undo_moves  # noqa: F401  (registers the undo-move table)
from storage.db import make_engine
from storage.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run every pending migration inside one transaction per revision."""
    engine = context.config.attributes.get("engine") or make_engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; pass a database URL")
run_migrations_online()

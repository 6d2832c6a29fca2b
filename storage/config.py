"""Where the database lives: an explicit URL, the environment, or a SQLite file.

Resolution order: the `url` argument (the app's `--db` flag), the environment
variable `CNTRL_DATABASE_URL`, then `stories.db` inside the data directory
(`CNTRL_DATA_DIR`, else `data/` at the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_ENV = "CNTRL_DATABASE_URL"
DEFAULT_DB_FILE = "stories.db"


def data_dir() -> Path:
    """The product's data directory (`engine.paths.data_dir` owns the rule), created if needed."""
    from engine.paths import data_dir as product_data_dir

    return product_data_dir()


def database_url(url: str | None = None) -> str:
    """Resolve the database URL.

    Args:
        url: An explicit SQLAlchemy URL; wins over everything else.

    Returns:
        A SQLAlchemy URL such as `sqlite:////abs/path/stories.db` or
        `postgresql+psycopg://user:pw@host/db`.
    """
    if url:
        return url
    env = os.environ.get(DATABASE_URL_ENV)
    if env:
        return env
    return f"sqlite:///{data_dir() / DEFAULT_DB_FILE}"

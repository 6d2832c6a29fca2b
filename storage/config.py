"""Where the database lives: an explicit URL, the environment, or a SQLite file.

Resolution order: the `url` argument (the `--database-url`/`--db` flags), the environment
variable `CNTRL_DATABASE_URL`, then `stories.db` inside the data directory (the `data_dir`
argument, else `CNTRL_DATA_DIR`, else `data/` at the repository root: `common.paths` owns
that rule).
"""

from __future__ import annotations

import os

from common.paths import data_dir

DATABASE_URL_ENV = "CNTRL_DATABASE_URL"
DEFAULT_DB_FILE = "stories.db"


def database_url(url: str | None = None, *, folder: str | os.PathLike | None = None) -> str:
    """Resolve the database URL.

    Args:
        url: An explicit SQLAlchemy URL; wins over everything else.
        folder: The data directory whose `stories.db` is the default (None: `data_dir()`'s rule).

    Returns:
        A SQLAlchemy URL such as `sqlite:////abs/path/stories.db` or
        `postgresql+psycopg://user:pw@host/db`.
    """
    if url:
        return url
    env = os.environ.get(DATABASE_URL_ENV)
    if env:
        return env
    return f"sqlite:///{data_dir(folder) / DEFAULT_DB_FILE}"

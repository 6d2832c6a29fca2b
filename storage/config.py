"""Where the database lives: an explicit URL, the environment, or a SQLite file.

Resolution order: the `url` argument (the app's `--db` flag), the environment
variable `CNTRL_DATABASE_URL`, then `stories.db` inside the data directory
(`CNTRL_DATA_DIR`, else `data/` at the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "CNTRL_DATA_DIR"
DATABASE_URL_ENV = "CNTRL_DATABASE_URL"
DEFAULT_DB_FILE = "stories.db"


def data_dir() -> Path:
    """Return the data directory (same rule as the engine's), creating it if needed."""
    raw = os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "data"
    path = Path(raw).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


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

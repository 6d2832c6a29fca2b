"""Where the product keeps its files: one data directory for every command.

Resolution order: an explicit argument (the `--data-dir` flag), the environment
variable `CNTRL_DATA_DIR`, then `data/` at the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "CNTRL_DATA_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Return the data directory, creating it if needed."""
    raw = override or os.environ.get(ENV_VAR) or REPO_ROOT / "data"
    path = Path(raw).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path

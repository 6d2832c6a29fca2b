"""Where the product keeps its files: one data directory for every command.

Resolution order: an explicit argument (the `--data-dir` flag), the environment
variable `CNTRL_DATA_DIR`, then `data/` at the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
ENV_VAR = "CNTRL_DATA_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Return the data directory, creating it if needed."""
    raw = override or os.environ.get(ENV_VAR) or REPO_ROOT / "data"
    path = Path(raw).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def asset(*parts: str) -> Path:
    """Path of a file shipped in `assets/`."""
    return ASSETS_DIR.joinpath(*parts)


SHARED_ENV_VAR = "CNTRL_SHARED_DATA"


def shared_data_dir() -> Path:
    """The public data sets (ROCStories, ConceptNet subsets) read by tests and benchmarks.

    `CNTRL_SHARED_DATA` when set, else the first `shared/data` folder beside the repository
    or beside one of its parent folders. The returned path may not exist; callers check.
    """
    if os.environ.get(SHARED_ENV_VAR):
        return Path(os.environ[SHARED_ENV_VAR]).expanduser().resolve()
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """Path of a file in the shared data sets."""
    return shared_data_dir().joinpath(*parts)

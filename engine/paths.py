"""Where the engine finds its files: the data directory (its rule is `common.paths`'), the
shipped assets, and the public data sets beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from common.paths import ENV_VAR, REPO_ROOT, data_dir  # noqa: F401 - one rule for every layer

ASSETS_DIR = REPO_ROOT / "assets"


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

"""The key that signs rater tokens, shared by every app process on one database."""

from __future__ import annotations

import secrets
from pathlib import Path


def eval_secret(folder: Path, factory=None) -> bytes:
    """A signing key for rater tokens that survives restarts.

    It is kept in the data directory, and with a session `factory` also in the database:
    the first process stores its key there and every process on the database signs with
    that one, so a rater's token is good on any of them.
    """
    path = folder / "eval-secret"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    if factory is None:
        return path.read_bytes()
    from storage import run_in_transaction, shared_setting

    return bytes.fromhex(run_in_transaction(
        factory, lambda s: shared_setting(s, key="eval_secret", make=lambda: path.read_bytes().hex())))

"""`python -m storage`: migrations from the command line, and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_storage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storage", *args], capture_output=True, text=True, timeout=120
    )


def test_upgrade_then_current_reports_the_newest_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    up = run_storage("--db", url, "upgrade")
    assert up.returncode == 0, up.stderr
    now = run_storage("--db", url, "current")
    assert now.returncode == 0
    revision = up.stdout.strip().rsplit(" ", 1)[-1]
    assert f"at {revision} (newest: {revision})" in now.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--db", "not a url", "current"), "error: database URL:"),
        (("--db", "postgresql+psycopg://u:p@127.0.0.1:1/none", "current"), "error: database:"),
        (("upgrade", "no-such-revision"), "error: revision:"),
    ],
)
def test_bad_input_is_one_line_without_a_traceback(args, expected, tmp_path):
    if args[0] == "upgrade":
        args = ("--db", f"sqlite:///{tmp_path / 'x.db'}", *args)
    result = run_storage(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr

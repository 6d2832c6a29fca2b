"""A writer killed with SIGKILL mid-transaction: the database stays sound, commits survive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import Node, Story, create_story, create_user, load_story

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("crash_writer.py")


def _run_until(url, user, story, mode, *, want_commits):
    """Start the writer, read its log until the kill point, SIGKILL it by pid."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, str(user), str(story), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    committed: list[int] = []
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            if line.startswith("COMMITTED"):
                committed.append(int(line.split()[1]))
            if (mode == "pending" and line.strip() == "PENDING") or (
                mode == "loop" and len(committed) >= want_commits
            ):
                break
            assert time.monotonic() < deadline, "writer too slow"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return committed


@pytest.mark.parametrize("mode", ["pending", "loop"])
def test_sigkill_mid_transaction(factory, engine, mode):
    with factory.begin() as session:
        user = create_user(session, name="ann").id
        story = create_story(session, user_id=user).id
    url = engine.url.render_as_string(hide_password=False)
    committed = _run_until(url, user, story, mode, want_commits=200)
    assert len(committed) >= 40

    if engine.dialect.name == "sqlite":
        if mode == "pending":  # the open transaction had spilled pages into the WAL
            assert Path(f"{engine.url.database}-wal").stat().st_size > 1_000_000
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    with factory() as session:
        rows = dict(session.execute(select(Node.id, Node.text).where(Node.id.in_(committed))).all())
        assert sorted(rows) == sorted(committed)
        assert all(text.startswith("Committed ") for text in rows.values())
        assert session.scalar(select(func.count()).where(Node.text.like("Pending%"))) == 0
        view = load_story(session, user_id=user, story_id=story)
        assert view.head_node_id == session.get(Story, story).head_node_id
        total = session.scalar(select(func.count()).where(Node.story_id == story))
        if mode == "pending":
            assert view.head_node_id == committed[-1] and total == len(committed)
        else:  # batches of 20 commit whole or not at all
            assert total % 20 == 0 and total >= len(committed)
        assert [n.position for n in view.nodes] == list(range(len(view.nodes)))

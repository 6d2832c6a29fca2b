"""The quick start at the top of docs/evaluation.md, run line by line exactly as written.

Between `invite` and `status` three raters answer through the study's own service (one of
them fails the attention check), as people with the links would while `serve` runs.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "evaluation.md"
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def quick_start_lines() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"### Quick start\n.*?```bash\n(.*?)```", text, re.S)
    assert block, "docs/evaluation.md has no quick start block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _bash(lines: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    script = "set -euo pipefail\n" + "\n".join(lines)
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()[-2000:] if process.stdout else "exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def _rate(db: Path, links: list[str]) -> int:
    """Three raters answer every item; the third fails the attention check. Returns answers given."""
    from app.studies.service import EvalService
    from storage import make_engine, make_sessionmaker

    engine = make_engine(f"sqlite:///{db}")
    service = EvalService(factory=make_sessionmaker(engine), secret=b"quick-start")
    given = 0
    for n, link in enumerate(links):
        token, study = service.redeem(invite=link.split("invite=", 1)[1])
        while (item := service.current_item(token, study_id=study)) is not None:
            instruction = item.payload.get("story_a", "")
            if instruction.startswith("This is an attention check"):
                value = "tie" if n == 2 else ("A" if "choose A" in instruction else "B")
            else:
                value = "A" if (item.item_id + n) % 3 else "B"
            service.submit(token, item_id=item.item_id, answers={"coherence": value}, time_spent_ms=6000)
            given += 1
    engine.dispose()
    return given


def test_the_quick_start_runs_as_written(tmp_path):
    lines = quick_start_lines()
    export, setup, serve, after = lines[0], lines[1:4], lines[4], lines[5:]
    assert export.startswith("export CNTRL_DATABASE_URL=") and serve.endswith("serve --port 7861")
    from tests.conftest import PRODUCT_DATA_DIR

    env = {k: v for k, v in os.environ.items() if k not in ("CNTRL_DATABASE_URL", "CNTRL_KB")}
    env["CNTRL_DATA_DIR"] = str(PRODUCT_DATA_DIR)  # the default model and knowledge base setup prepared
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env['PATH']}"
    env["PYTHONPATH"] = str(REPO)

    out = _bash([export, *setup], tmp_path, env).stdout
    assert "created admin ada" in out and "study 1: 8 stories, 0 assignments" in out
    assert "full: model SmolLM2-135M-Instruct + cntrl-smollm2, adapter cntrl-smollm2" in out
    assert "plain: model" in out and "no knowledge, keywords none" in out
    assert "study 1 now has 8 open rater slots and 3 unused invites" in out
    links = re.findall(r"http://127\.0\.0\.1:7861/\?invite=\S+", out)
    assert len(links) == 3

    server = subprocess.Popen(["bash", "-c", f"{export}\nexec {serve}"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        _wait_for("http://127.0.0.1:7861/", server)
        given = _rate(tmp_path / "study.db", links)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    out = _bash([export, *after], tmp_path, env).stdout
    assert "4 of 4 have 2 answers" in out and "attention checks 0%" in out
    assert "Krippendorff" in out and "Bradley-Terry scores" in out and "Win rates" in out
    folder = tmp_path / "pilot-results"
    with open(folder / "study-1-ratings.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == given == 8 + 3  # every regular answer and each rater's check, once
    assert len({(r["rater_id"], r["item_id"]) for r in rows}) == len(rows)
    with open(folder / "study-1-summary.csv", newline="", encoding="utf-8") as handle:
        systems = {r["system"]: r for r in csv.DictReader(handle) if r["table"] == "systems"}
    assert systems["full"]["knowledge_base"].endswith("knowledge.db") and int(systems["full"]["knowledge_edges"]) > 0
    assert systems["plain"]["knowledge_base"] == "none"

"""Many writers at once against `python -m app --fake-engine`: latency per action, errors, and a
check of the database against what the clients were told.

    python benchmarks/bench_load_app.py --writers 50 --seconds 120                 # SQLite
    python benchmarks/bench_load_app.py --writers 50 --seconds 120 --database-url URL  # PostgreSQL
    python benchmarks/bench_load_app.py --real-model --writers 8 --seconds 180 --queue-size 4   # the default model

Each simulated writer loops: new story, 4 sentences (keyword = the writer's own tag), steer
sentence 2 with another keyword, undo, export. Afterwards every story is read back from the
database: every acknowledged sentence must be there, and no story may hold another writer's tag.
Traffic goes to 127.0.0.1 only. With --real-model the app writes with the default model (and
its knowledge) behind its writing queue; answers that say "busy" are counted apart from
errors, and the app's own /healthz gives the queue wait of admitted requests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUSY_PAUSE_S = 3.0  # a writer told "busy" tries again after this pause
sys.path.insert(0, str(REPO))


def start_app(port: int, data_dir: Path, database_url: str, *, real_model: bool = False,
              queue_size: int = 16) -> subprocess.Popen:
    command = [sys.executable, "-m", "app", "--port", str(port), "--database-url", database_url, "--no-eval",
               "--queue-size", str(queue_size)]
    # The real model reads the product's data directory (converted model, knowledge); the fake needs none.
    command += [] if real_model else ["--fake-engine", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the app did not become ready within 180 s")


class Writer(threading.Thread):
    """One simulated writer with its own client; records latencies, errors and what was acknowledged."""

    def __init__(self, number: int, url: str, deadline: float, timings: dict, errors: list, acked: dict):
        super().__init__(daemon=True)
        self.number, self.url, self.deadline = number, url, deadline
        self.timings, self.errors, self.acked = timings, errors, acked
        # A word only this writer's sentences contain (letters only: the keyword rule drops digits).
        self.tag = "tag" + "".join("abcdefghij"[int(d)] for d in f"{number:03d}")

    def call(self, client, action: str, *args):
        """One action; a "busy" answer is counted and the writer tries again after a pause, as a person would."""
        while True:
            start = time.perf_counter()
            try:
                return client.predict(*args, api_name=f"/{action}")
            except Exception as error:  # noqa: BLE001 - counted and reported, the writer goes on
                self.errors.append((action, type(error).__name__, str(error)[:200]))
                if "busy" not in str(error) or time.monotonic() > self.deadline:
                    return None
            finally:
                self.timings[action].append(time.perf_counter() - start)
            time.sleep(BUSY_PAUSE_S)

    def run(self) -> None:
        from gradio_client import Client

        client = Client(self.url, verbose=False)
        while time.monotonic() < self.deadline:
            story = self.call(client, "new_story", f"Writer {self.tag} opens a story.")
            if not story:
                continue
            mine = self.acked.setdefault(str(story), {"tag": self.tag, "sentences": []})
            for _ in range(4):
                sentence = self.call(client, "write_next", story, self.tag)
                if sentence:
                    mine["sentences"].append(sentence)
            steered = self.call(client, "regenerate", story, 2, f"{self.tag} steer")
            if steered:
                mine["sentences"].append(steered)
            self.call(client, "undo", story)
            self.call(client, "export_story", story)


def check_database(database_url: str, acked: dict) -> dict:
    """Every acknowledged sentence is a version in its story; no story holds another writer's tag."""
    from storage import make_engine, make_sessionmaker
    from storage.exchange import export_json
    from storage.models import Story

    engine = make_engine(database_url)
    missing, foreign, tagged = 0, 0, 0
    with make_sessionmaker(engine)() as session:
        for story_id, record in acked.items():
            story = session.get(Story, int(story_id))
            texts = [n["text"] for n in export_json(session, user_id=story.owner_id, story_id=story.id)["nodes"]]
            missing += sum(1 for s in record["sentences"] if s not in texts)
            tagged += sum(1 for s in record["sentences"] if record["tag"] in s)  # the check has teeth
            foreign += sum(1 for t in texts if "tag" in t and record["tag"] not in t)
    engine.dispose()
    return {"stories": len(acked), "acknowledged_sentences": sum(len(r["sentences"]) for r in acked.values()),
            "carrying_their_tag": tagged, "missing": missing, "foreign": foreign}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--port", type=int, default=7871)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--real-model", action="store_true", help="the default model instead of the scripted engine")
    parser.add_argument("--queue-size", type=int, default=16, help="the app's --queue-size (default 16)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    url_db = args.database_url or f"sqlite:///{work / 'stories.db'}"
    process = start_app(args.port, work, url_db, real_model=args.real_model, queue_size=args.queue_size)
    queue = {}
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list = []
    acked: dict = {}
    try:
        deadline = time.monotonic() + args.seconds
        writers = [Writer(n, f"http://127.0.0.1:{args.port}/", deadline, timings, errors, acked)
                   for n in range(args.writers)]
        started = time.perf_counter()
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=args.seconds + 300)
        elapsed = time.perf_counter() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=10) as answer:
            queue = json.loads(answer.read()).get("queue", {})
    finally:
        process.terminate()  # a sentence still being written is finished first; then it is killed
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    busy = [e for e in errors if "busy" in e[2]]
    errors = [e for e in errors if "busy" not in e[2]]
    written = sum(len(r["sentences"]) for r in acked.values())  # acknowledged sentences
    report = {
        "engine": "default model" if args.real_model else "scripted fake",
        "database": "postgresql" if url_db.startswith("postgresql") else "sqlite",
        "writers": args.writers, "seconds": round(elapsed, 1), "load_average": os.getloadavg(),
        "actions": {a: {"n": len(t), "p50_s": round(statistics.median(t), 3),
                        "p95_s": round(sorted(t)[int(0.95 * (len(t) - 1))], 3)} for a, t in sorted(timings.items())},
        "busy_answers": len(busy), "busy_example": busy[0][2] if busy else None,
        "sentences_per_minute": round(60 * written / elapsed, 1), "queue": queue,
        "errors": len(errors), "error_kinds": sorted({f"{a}: {k}: {m[:80]}" for a, k, m in errors})[:10],
        "check": check_database(url_db, acked),
    }
    print(json.dumps(report, indent=1))
    return 0 if report["check"]["missing"] == 0 and report["check"]["foreign"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Start-up benchmark: first load (GGUF conversion) vs cached load, and peak memory.

Each load runs in a fresh Python process, as a user's start would:

    .venv/bin/python benchmarks/bench_load.py [--model MODEL] [--runs 3] [--json]

Targets (issue 2, section 8): a cached start loads in at most 5 s; peak RSS with the
default model stays under 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHED_LOAD_TARGET_S = 5.0
RSS_TARGET_BYTES = 2 * 1024**3

CHILD = """
import json, resource, sys, time
start = time.perf_counter()
import torch, transformers  # library imports, timed apart from our loading work
from transformers import AutoModelForCausalLM, AutoTokenizer
from engine.loading import LoadConfig, load_model
imported = time.perf_counter() - start
loaded = load_model(LoadConfig(model=sys.argv[1], data_dir=sys.argv[2]))
batch = loaded.tokenizer(["Once upon a time"], return_tensors="pt")
loaded.model.generate(**batch, max_new_tokens=1, do_sample=False)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "source": loaded.source,
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "import_s": imported,
    "load_s": loaded.load_seconds,
    "ready_s": time.perf_counter() - start,
    "peak_rss_bytes": usage.ru_maxrss * 1024,
}))
"""


@dataclass
class LoadRun:
    """One process start: where the weights came from and what it cost."""

    source: str
    cpu_s: float  # CPU seconds of the whole process: less sensitive to a busy machine
    import_s: float
    load_s: float
    ready_s: float
    peak_rss_bytes: int


def run_once(*, model: str, data_dir: Path) -> LoadRun:
    """Start a fresh interpreter that loads `model` and reports its figures."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, model, str(data_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return LoadRun(**json.loads(out.stdout.strip().splitlines()[-1]))


def bench(*, model: str, runs: int) -> dict:
    """First load into an empty data directory, then `runs` cached loads."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        first = run_once(model=model, data_dir=Path(tmp))
        cached = [run_once(model=model, data_dir=Path(tmp)) for _ in range(runs)]
    cached_load = statistics.median(r.load_s for r in cached)
    peak_rss = max(r.peak_rss_bytes for r in [first, *cached])
    return {
        "model": model,
        "cores": len(os.sched_getaffinity(0)),
        "load_average": [load_before, os.getloadavg()[0]],
        "first": asdict(first),
        "cached": [asdict(r) for r in cached],
        "cached_load_s_median": cached_load,
        "cached_imports_s_median": statistics.median(r.import_s for r in cached),
        "cached_ready_s_median": statistics.median(r.ready_s for r in cached),
        "speedup_first_vs_cached": first.load_s / cached_load,
        "cached_load_vs_target": cached_load / CACHED_LOAD_TARGET_S,
        "cached_start_vs_target": statistics.median(r.import_s + r.load_s for r in cached)
        / CACHED_LOAD_TARGET_S,
        "peak_rss_bytes": peak_rss,
        "peak_rss_vs_target": peak_rss / RSS_TARGET_BYTES,
    }


def report(result: dict) -> str:
    """The figures as a few aligned lines."""
    first, gib = result["first"], 1024**3
    cached_rss = max(r["peak_rss_bytes"] for r in result["cached"])
    return "\n".join(
        [
            f"model: {result['model']} on {result['cores']} cores, load average "
            f"{result['load_average'][0]:.1f} before, {result['load_average'][1]:.1f} after",
            f"first load ({first['source']}): {first['load_s']:.2f} s "
            f"({first['cpu_s']:.1f} CPU s), peak RSS {first['peak_rss_bytes'] / gib:.2f} GiB",
            f"cached load (median of {len(result['cached'])}): "
            f"{result['cached_load_s_median']:.2f} s "
            f"({statistics.median(r['cpu_s'] for r in result['cached']):.1f} CPU s), "
            f"after {result['cached_imports_s_median']:.2f} s of torch/transformers imports; "
            f"first token after {result['cached_ready_s_median']:.2f} s, "
            f"peak RSS {cached_rss / gib:.2f} GiB",
            f"first / cached load: {result['speedup_first_vs_cached']:.1f}x",
            f"cached load / 5 s target: {result['cached_load_vs_target']:.2f} "
            f"({'met' if result['cached_load_vs_target'] <= 1 else 'MISSED'}); "
            f"with imports: {result['cached_start_vs_target']:.2f}",
            f"peak RSS / 2 GiB target: {result['peak_rss_vs_target']:.2f} "
            f"({'met' if result['peak_rss_vs_target'] <= 1 else 'MISSED'})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="any --model value (default model)")
    parser.add_argument("--runs", type=int, default=3, help="cached loads to time (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = bench(model=args.model, runs=args.runs)
    print(json.dumps(result, indent=1) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

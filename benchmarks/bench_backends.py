"""Generation backends side by side in one run: seconds per sentence, tokens/s, first token,
keyword inclusion on the same Plan-and-Write dev pairs, and peak RSS growth.

    .venv/bin/python benchmarks/bench_backends.py [--pairs 20] [--server-url http://127.0.0.1:8000/v1]
        [--backends llama-cpp,torch,vllm] [--writers 1,4,16] [--per-writer 2]

torch and llama-cpp run in this process (llama-cpp needs `bash scripts/setup.sh --llama-cpp`);
vllm is measured when --server-url names a running `scripts/serve_vllm.sh`. Every backend
writes the same sentences (same contexts, gold keywords, seeds, knowledge off, the default
model with its shipped adapter). Prints the load average, since the machine is shared.

--writers runs the concurrency comparison instead: N simulated writers at once, each
writing --per-writer sentences one after another (streamed), on one shared pipeline per
backend, as the app shares one. The in-process generator takes one sentence at a time;
a vLLM server batches the writers' requests. Sentences per minute and the first streamed
token (queue wait included) per backend and N, ratios to torch in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor

from engine.build import KnowledgeOptions, build_pipeline
from engine.evaluation.cases import load_cases
from engine.inflect import mentions
from engine.loading import LoadConfig
from engine.types import SamplingParams


def warm_pipeline(backend: str, cases, server_url: str | None):
    """The backend's pipeline (knowledge off), after one sentence so loading is not timed."""
    pipeline = build_pipeline(LoadConfig(backend=backend, server_url=server_url), knowledge=KnowledgeOptions(enabled=False))
    pipeline.next_step(cases[0].context, keywords=[cases[0].gold_keyword], params=SamplingParams(seed=0))
    return pipeline


def measure(backend: str, cases, server_url: str | None) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline = warm_pipeline(backend, cases, server_url)
    seconds, tokens, hits, firsts = 0.0, 0, 0, []
    tok = pipeline.generator.tokenizer
    for i, case in enumerate(cases):
        t = time.perf_counter()
        first = None
        for item in pipeline.stream_step(case.context, keywords=[case.gold_keyword], params=SamplingParams(seed=i)):
            if isinstance(item, str) and first is None:
                first = time.perf_counter() - t
            elif not isinstance(item, str):
                step = item
        seconds += time.perf_counter() - t
        firsts.append(first or 0.0)
        tokens += len(tok(step.sentence, add_special_tokens=False)["input_ids"])
        hits += mentions(step.sentence, case.gold_keyword)
    pipeline.generator.close()
    firsts.sort()
    return {"backend": backend, "s_per_sentence": seconds / len(cases), "tokens_per_s": tokens / seconds,
            "first_token_s": firsts[len(firsts) // 2], "inclusion": hits / len(cases),
            "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
            "example": step.sentence}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def concurrent_writers(backend: str, cases, server_url: str | None, writers: list[int], per_writer: int) -> list[dict]:
    """Sentences per minute and first-token latency with N writers sharing one pipeline."""
    pipeline = warm_pipeline(backend, cases, server_url)
    rows = []
    for n in writers:

        def writer(w: int) -> tuple[int, list[float]]:
            found, firsts = 0, []
            for j in range(per_writer):
                case = cases[(w * per_writer + j) % len(cases)]
                t = time.perf_counter()
                first = None
                for item in pipeline.stream_step(case.context, keywords=[case.gold_keyword],
                                                 params=SamplingParams(seed=w * 100 + j)):
                    if isinstance(item, str):
                        first = first if first is not None else time.perf_counter() - t
                    else:
                        found += mentions(item.sentence, case.gold_keyword)
                firsts.append(first or 0.0)
            return found, firsts

        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(writer, range(n)))
        hits = sum(found for found, _ in results)
        firsts = [f for _, mine in results for f in mine]
        wall = time.perf_counter() - t0
        rows.append({"backend": backend, "writers": n, "sentences": n * per_writer, "wall_s": wall,
                     "per_minute": 60 * n * per_writer / wall, "first_p50": _pct(firsts, 0.5),
                     "first_p95": _pct(firsts, 0.95), "inclusion": hits / (n * per_writer)})
        print(f"  {backend} {n} writers: {rows[-1]['per_minute']:.1f} sentences/min", flush=True)
    pipeline.generator.close()
    return rows


def print_concurrency(rows: list[dict]) -> None:
    torch_rate = {r["writers"]: r["per_minute"] for r in rows if r["backend"] == "torch"}
    print(f"{'backend':10} {'writers':>7} {'sentences':>9} {'wall s':>7} {'sent/min':>8} {'x torch':>7} "
          f"{'first p50 s':>11} {'first p95 s':>11} {'inclusion':>9}")
    for r in rows:
        ratio = r["per_minute"] / torch_rate[r["writers"]] if r["writers"] in torch_rate else float("nan")
        print(f"{r['backend']:10} {r['writers']:7d} {r['sentences']:9d} {r['wall_s']:7.1f} {r['per_minute']:8.1f} "
              f"{ratio:7.2f} {r['first_p50']:11.2f} {r['first_p95']:11.2f} {r['inclusion']:9.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--server-url")
    ap.add_argument("--backends", help="comma-separated (default: llama-cpp,torch and vllm with --server-url)")
    ap.add_argument("--writers", help="concurrency mode: comma-separated writer counts, e.g. 1,4,16")
    ap.add_argument("--per-writer", type=int, default=2, help="sentences each writer writes (concurrency mode)")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    cases = load_cases("dev", limit=args.pairs)
    if args.writers:
        backends = (args.backends or "torch,vllm").split(",")
        counts = [int(n) for n in args.writers.split(",")]
        print_concurrency([r for b in backends for r in concurrent_writers(b, cases, args.server_url, counts,
                                                                              args.per_writer)])
        print(f"load average {os.getloadavg()[0]:.2f}")
        return
    backends = args.backends.split(",") if args.backends else ["llama-cpp", "torch"] + (["vllm"] if args.server_url else [])
    rows = [measure(b, cases, args.server_url) for b in backends]
    base = next((r for r in rows if r["backend"] == "torch"), rows[0])
    print(f"{'backend':10} {'s/sentence':>10} {'tokens/s':>9} {'x torch':>8} {'first tok s':>11} {'inclusion':>9} {'RSS+ MB':>8}")
    for r in rows:
        print(f"{r['backend']:10} {r['s_per_sentence']:10.2f} {r['tokens_per_s']:9.1f} "
              f"{r['tokens_per_s'] / base['tokens_per_s']:8.2f} {r['first_token_s']:11.2f} {r['inclusion']:9.0%} "
              f"{r['rss_growth_mb']:8.0f}   e.g. {r['example'][:60]}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Generation backends side by side in one run: seconds per sentence, tokens/s, first token,
keyword inclusion on the same Plan-and-Write dev pairs, and peak RSS growth.

    .venv/bin/python benchmarks/bench_backends.py [--pairs 20] [--server-url http://127.0.0.1:8000/v1]

torch and llama-cpp run in this process (llama-cpp needs `bash scripts/setup.sh --llama-cpp`);
vllm is measured when --server-url names a running `scripts/serve_vllm.sh`. Every backend
writes the same sentences (same contexts, gold keywords, seeds, knowledge off, the default
model with its shipped adapter). Prints the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from engine.build import KnowledgeOptions, build_pipeline
from engine.evaluation.cases import load_cases
from engine.inflect import mentions
from engine.loading import LoadConfig
from engine.types import SamplingParams


def measure(backend: str, cases, server_url: str | None) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline = build_pipeline(LoadConfig(backend=backend, server_url=server_url), knowledge=KnowledgeOptions(enabled=False))
    pipeline.next_step(cases[0].context, keywords=[cases[0].gold_keyword], params=SamplingParams(seed=0))  # warm-up
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--server-url")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    cases = load_cases("dev", limit=args.pairs)
    backends = ["llama-cpp", "torch"] + (["vllm"] if args.server_url else [])
    rows = [measure(b, cases, args.server_url) for b in backends]
    base = next(r for r in rows if r["backend"] == "torch")
    print(f"{'backend':10} {'s/sentence':>10} {'tokens/s':>9} {'x torch':>8} {'first tok s':>11} {'inclusion':>9} {'RSS+ MB':>8}")
    for r in rows:
        print(f"{r['backend']:10} {r['s_per_sentence']:10.2f} {r['tokens_per_s']:9.1f} "
              f"{r['tokens_per_s'] / base['tokens_per_s']:8.2f} {r['first_token_s']:11.2f} {r['inclusion']:9.0%} "
              f"{r['rss_growth_mb']:8.0f}   e.g. {r['example'][:60]}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

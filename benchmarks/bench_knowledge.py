"""Knowledge-stage speed: import rate, store size, retrieval p95, ranking 50 facts.

Builds a synthetic store the size of ConceptNet 5's English part (3.4M edges) with
the real writer (templates, lemma keys, sorted index build), then times retrieval
on it and the embedding ranker on 50 facts with cached fact embeddings.

    python benchmarks/bench_knowledge.py [--edges 3400000] [--workdir /tmp/kb-bench]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from engine.knowledge.retrieve import StoreRetriever
from engine.knowledge.templates import template_relations
from engine.knowledge.writer import EdgeWriter

TARGETS = {"import_edges_per_s": 50_000, "retrieve_p95_ms": 5.0, "rank50_p95_ms": 50.0}


def synthetic_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Pronounceable fake words, so lemmatising them costs what a real word costs."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words = set()
    while len(words) < size:
        n = rng.randint(2, 4)
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(n)))
    return sorted(words)


def build_store(path: Path, edges: int, seed: int = 0) -> tuple[float, list[str]]:
    """Write `edges` synthetic edges; returns (edges per second, vocabulary)."""
    rng = random.Random(seed)
    vocabulary = synthetic_vocabulary(rng, 300_000)
    concepts = vocabulary + [" ".join(rng.sample(vocabulary, rng.randint(2, 3))) for _ in range(700_000)]
    relations = [r for r in template_relations() if "/" not in r or r.startswith("dbpedia")]
    # Zipf-like popularity: a few concepts have thousands of edges, as in ConceptNet.
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(concepts))]
    heads = rng.choices(concepts, weights=weights, k=edges)
    tails = rng.choices(concepts, weights=weights, k=edges)
    with EdgeWriter(path, source="synthetic") as writer:
        for head, tail in zip(heads, tails, strict=True):
            writer.add(rng.choice(relations), head, tail, round(rng.uniform(0.5, 10.0), 3))
    return writer.report.edges_per_s, vocabulary


def time_retrieval(path: Path, vocabulary: list[str], queries: int = 2000) -> dict[str, float]:
    rng = random.Random(1)
    retriever = StoreRetriever(path)
    timings = []
    for _ in range(queries):
        keywords = rng.sample(vocabulary[:20_000], rng.randint(1, 3))  # popular-ish words
        start = time.perf_counter()
        retriever.retrieve(keywords, limit=50)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {"retrieve_p50_ms": statistics.median(timings), "retrieve_p95_ms": timings[int(0.95 * len(timings))]}


def time_ranking(runs: int = 30, threads: int | None = 1) -> dict[str, float]:
    import torch

    from engine.knowledge.rank import EmbeddingRanker
    from engine.types import Fact

    if threads:
        torch.set_num_threads(threads)
    ranker = EmbeddingRanker()
    facts = [Fact("IsA", f"thing{i}", "object", f"A thing number {i} is a kind of object.") for i in range(50)]
    ranker.rank("warm up", facts)
    timings = []
    for i in range(runs):
        start = time.perf_counter()
        ranker.rank(f"Tom looked at thing number {i} for a long time and smiled.", facts, top_n=5)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {"rank50_p50_ms": statistics.median(timings), "rank50_p95_ms": timings[int(0.95 * len(timings))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=3_400_000)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--skip-rank", action="store_true")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kb-bench-"))
    path = workdir / "synthetic.db"
    path.unlink(missing_ok=True)
    rate, vocabulary = build_store(path, args.edges)
    figures = {"edges": args.edges, "import_edges_per_s": rate, "store_bytes": path.stat().st_size}
    figures["bytes_per_edge"] = figures["store_bytes"] / args.edges
    figures.update(time_retrieval(path, vocabulary))
    if not args.skip_rank:
        figures.update(time_ranking())
    print(f"\nknowledge benchmark ({args.edges:,} synthetic edges, store {path})")
    for name, value in figures.items():
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            ok = value >= target if name.endswith("per_s") else value <= target
            verdict = f"  target {'>=' if name.endswith('per_s') else '<='} {target:,}: {'ok' if ok else 'MISSED'}"
        print(f"  {name:<22} {value:>16,.2f}{verdict}")


if __name__ == "__main__":
    main()

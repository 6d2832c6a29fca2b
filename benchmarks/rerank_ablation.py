"""The coherence reranker, sentence by sentence: the first of N candidates against the reranker's choice.

For each held-out Plan-and-Write **test** case (a human story up to sentence 2-5, cycling)
the pipeline writes N candidates with predicted keywords and knowledge, once; "first" is
candidate 0 (what one candidate per sentence writes) and "reranked" is the reranker's
choice among the N. Prints name drift (a name the story so far lacks), keyword inclusion and
copied 4-grams of both, with 95% bootstrap intervals, and seconds per sentence for N
candidates against one candidate on the first `--timed` cases, measured side by side in this
run. Writes an A/B sheet (order shuffled, systems hidden) and its key for a blind reader.

    python benchmarks/rerank_ablation.py --cases 40 --candidates 4 --reranker assets/coherence \
        --out docs/readings/rerank
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.story_ablation import bootstrap_interval  # noqa: E402


def share(flags: list[float]) -> dict:
    low, high = bootstrap_interval(flags)
    return {"share": round(sum(flags) / len(flags), 3) if flags else None, "95": [round(low, 3), round(high, 3)],
            "n": len(flags)}


def sheet(rows: list[dict], seed: int) -> tuple[str, dict]:
    """A/B pairs where the two systems differ, in shuffled order, and the key."""
    rng = random.Random(seed)
    parts, key = [], {}
    for row in rows:
        if row["first"] == row["reranked"]:
            continue
        a, b = ("first", "reranked") if rng.random() < 0.5 else ("reranked", "first")
        number = str(len(key) + 1)
        key[number] = {"case": row["case"], "A": a, "B": b}
        parts.append(f"### {number}\n\nStory so far: {row['story']}\n\nA: {row[a]}\n\nB: {row[b]}\n")
    return "\n".join(parts), key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--reranker", default="auto", help="folder of the coherence reranker (auto: assets/coherence)")
    parser.add_argument("--adapter", default="auto")
    parser.add_argument("--timed", type=int, default=8, help="cases also written with one candidate, for time")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True, help="folder for rows.jsonl, sheet.md, key.json, figures.json")
    args = parser.parse_args()

    from engine.build import build_pipeline
    from engine.evaluation import metrics as M
    from engine.evaluation.cases import load_cases
    from engine.loading import LoadConfig
    from engine.names import new_names
    from engine.types import SamplingParams

    load_before = os.getloadavg()
    cases = load_cases("test", limit=args.cases, offset=args.offset)
    pipeline = build_pipeline(LoadConfig(adapter=args.adapter, threads=args.threads), reranker=args.reranker)
    rows, timing = [], {"one": 0.0, "many": 0.0}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rows.jsonl").write_text("", encoding="utf-8")
    for number, case in enumerate(cases):
        params = SamplingParams(n_candidates=args.candidates, seed=args.seed + number)
        start = time.perf_counter()
        step = pipeline.next_step(case.context, params=params)
        spent = time.perf_counter() - start
        if number < args.timed:
            timing["many"] += spent
            start = time.perf_counter()
            pipeline.next_step(case.context, params=SamplingParams(n_candidates=1, seed=args.seed + number))
            timing["one"] += time.perf_counter() - start
        before = [case.premise, *case.context.sentences]
        rows.append({"case": number, "story": case.context.text(), "keywords": step.keywords,
                     "candidates": step.candidates, "coherence": step.coherence, "chosen": step.chosen,
                     "first": step.candidates[0], "reranked": step.sentence, "human": case.gold_sentence,
                     "drift_first": bool(new_names(step.candidates[0], before)),
                     "drift_reranked": bool(new_names(step.sentence, before)),
                     "drift_human": bool(new_names(case.gold_sentence, before))})
        with (out / "rows.jsonl").open("a", encoding="utf-8") as handle:  # kept case by case: a long run can stop early
            handle.write(json.dumps(rows[-1]) + "\n")
        print(json.dumps({"case": number, "chosen": step.chosen, "seconds": round(spent, 1)}), flush=True)
    figures = {"load_before": [round(x, 2) for x in load_before], "cases": len(rows), "candidates": args.candidates,
               "changed": sum(r["first"] != r["reranked"] for r in rows)}
    for side in ("first", "reranked", "human"):
        figures[side] = {
            "name_drift": share([float(r[f"drift_{side}"]) for r in rows]),
            "inclusion": share([float(M.includes_all(r[side], r["keywords"])) for r in rows]) if side != "human" else None,
            "copies_4gram": share([float(M.has_repeat(r["story"] + " " + r[side], 4)) for r in rows]),
        }
    timed = min(args.timed, len(rows))
    figures["seconds_per_sentence"] = {"one": round(timing["one"] / max(1, timed), 2),
                                       "many": round(timing["many"] / max(1, timed), 2), "cases": timed}
    figures["time_ratio"] = round(timing["many"] / timing["one"], 2) if timing["one"] else None
    figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
    text, key = sheet(rows, args.seed)
    (out / "sheet.md").write_text(text, encoding="utf-8")
    (out / "key.json").write_text(json.dumps(key, indent=1), encoding="utf-8")
    (out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

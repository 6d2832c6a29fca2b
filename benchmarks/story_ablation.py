"""Stories from held-out premises, system by system, for the ablation table and a blind reading.

Each system writes 4 sentences after each Plan-and-Write **test** premise with predicted
keywords and knowledge, as a writer pressing Continue gets them; the human continuation
is the fifth row. Prints per system: name drift (continuation sentences that bring in a
name the premise and earlier sentences lack, against the human rate), Repeat-4, keyword
inclusion of the predicted keywords, and seconds per sentence, with the load average.
Writes every story as JSONL for `benchmarks/blind_sheet.py`.

    python benchmarks/story_ablation.py --stories 40 --out docs/readings/ablation.jsonl \
        --system shipped=assets/adapters/cntrl-smollm2 \
        --system shipped+rerank4=assets/adapters/cntrl-smollm2:4:assets/coherence \
        --system static=assets/adapters/cntrl-smollm2:1:none:plan

A fourth field `plan` writes to a storyline planned from the premise first (Plan-and-Write's
static schema: `Pipeline.plan_storyline`, then each sentence with its slot's keywords);
without it each sentence's keywords are predicted from the story so far (dynamic).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass(frozen=True)
class AblationSystem:
    """NAME=ADAPTER[:CANDIDATES[:RERANKER[:plan]]] from the command line (RERANKER "none": none)."""

    name: str
    adapter: str
    candidates: int = 1
    reranker: str | None = None
    plan: bool = False  # static: plan the storyline from the premise, then write to it

    @classmethod
    def parse(cls, text: str) -> AblationSystem:
        name, _, rest = text.partition("=")
        parts = rest.split(":")
        reranker = parts[2] if len(parts) > 2 and parts[2] not in ("", "none") else None
        if len(parts) > 3 and parts[3] != "plan":
            raise ValueError(f"unknown fourth field {parts[3]!r} in {text!r}; only 'plan' is known")
        return cls(name, parts[0], int(parts[1]) if len(parts) > 1 and parts[1] else 1, reranker, len(parts) > 3)


def bootstrap_interval(flags: list[float], *, rounds: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of a mean."""
    import random

    rng = random.Random(seed)
    if not flags:
        return (0.0, 0.0)
    means = sorted(sum(rng.choice(flags) for _ in flags) / len(flags) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def story_rows(system: AblationSystem, cases, *, seed: int, threads: int) -> tuple[list[dict], float]:
    """Each case's story from `system`, and the seconds spent writing."""
    from engine.build import build_pipeline
    from engine.coherence import CoherenceReranker, load_scorer, ranker_encoder
    from engine.loading import LoadConfig
    from engine.types import SamplingParams, StoryContext

    pipeline = build_pipeline(LoadConfig(adapter=system.adapter, threads=threads))
    if system.reranker:
        pipeline.reranker = CoherenceReranker(load_scorer(Path(system.reranker)), ranker_encoder(pipeline.ranker))
    rows, seconds = [], 0.0
    for number, case in enumerate(cases):
        context, steps = StoryContext(case.premise), []
        start = time.perf_counter()
        plan = pipeline.plan_storyline(context, 4, seed=seed + 1000 * number).slots if system.plan else [None] * 4
        for i in range(4):
            params = SamplingParams(n_candidates=system.candidates, seed=seed + 1000 * number + i)
            step = pipeline.next_step(context, keywords=list(plan[i]) if plan[i] else None, params=params)
            steps.append(step)
            context = context.extend(step.sentence)
        seconds += time.perf_counter() - start
        rows.append({"system": system.name, "case": number, "premise": case.premise,
                     "sentences": [s.sentence for s in steps], "keywords": [s.keywords for s in steps],
                     "plan": [list(p) if p else [] for p in plan] if system.plan else None,
                     "coherence": [s.coherence for s in steps]})
    return rows, seconds


def metrics(rows: list[dict], seconds: float | None) -> dict:
    from engine.evaluation import metrics as M
    from engine.names import new_names

    drift = []
    for r in rows:
        before = [r["premise"]]
        for sentence in r["sentences"]:
            drift.append(float(bool(new_names(sentence, before))))
            before.append(sentence)
    out = {"stories": len(rows), "sentences": len(drift), "name_drift": round(sum(drift) / len(drift), 3),
           "name_drift_95": [round(x, 3) for x in bootstrap_interval(drift)],
           "repeat4": M.repeat_n([" ".join(r["sentences"]) for r in rows], 4)}
    if rows and "keywords" in rows[0]:
        flags = [float(M.includes_all(s, k)) for r in rows for s, k in zip(r["sentences"], r["keywords"], strict=True)]
        out["inclusion"] = round(sum(flags) / len(flags), 3)
        out["inclusion_95"] = [round(x, 3) for x in bootstrap_interval(flags)]
    if seconds is not None:
        out["seconds_per_sentence"] = round(seconds / max(1, out["sentences"]), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", action="append", required=True, help="NAME=ADAPTER[:CANDIDATES[:RERANKER[:plan]]]")
    parser.add_argument("--stories", type=int, default=40, help="Plan-and-Write test premises")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True, help="JSONL of every story, for benchmarks/blind_sheet.py")
    args = parser.parse_args()

    from engine.evaluation.cases import load_cases

    cases = load_cases("test", limit=args.stories, offset=args.offset)
    human = [{"system": "human", "case": i, "premise": c.premise, "sentences": list(c.human_continuation)}
             for i, c in enumerate(cases)]
    table = {"load_before": [round(x, 2) for x in os.getloadavg()], "human": metrics(human, None)}
    rows = list(human)
    for text in args.system:
        system = AblationSystem.parse(text)
        written, seconds = story_rows(system, cases, seed=args.seed, threads=args.threads)
        rows += written
        table[system.name] = metrics(written, seconds)
        print(json.dumps({system.name: table[system.name]}), flush=True)
    table["load_after"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()

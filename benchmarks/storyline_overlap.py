"""Storyline overlap of the planners with the gold storylines of Plan-and-Write **test** stories.

For each story, the premise (sentence 1) and the gold storyline keywords of sentences 2-5:

- `chain`: the storyline predictor's fallback (the per-sentence predictor over placeholder sentences);
- `storyline`: the adapter's storyline task (only when the adapter's manifest lists it);
- `rake-spread`: the premise's RAKE keywords, one per slot;
- `dynamic-gold`: the per-sentence (dynamic) predictor given the human sentences so far, as a
  writer who writes the gold story would get it (the harness measures it on its own sentences).

    python benchmarks/storyline_overlap.py --stories 200 --out /tmp/storyline.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=200)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--adapter", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="write the plans and the figures to this JSON file")
    args = parser.parse_args()

    from engine.build import KnowledgeOptions, build_pipeline
    from engine.evaluation.cases import load_cases
    from engine.evaluation.storyline_metric import storyline_overlap
    from engine.loading import LoadConfig
    from engine.storyline import STORYLINE_TASK, StorylinePredictor, rake_spread
    from engine.types import StoryContext

    cases = load_cases("test", limit=args.stories, offset=args.offset)
    pipeline = build_pipeline(LoadConfig(adapter=args.adapter, threads=args.threads),
                              knowledge=KnowledgeOptions(enabled=False))
    planners = {"chain": StorylinePredictor(pipeline.generator, pipeline.predictor, method="chain")}
    if StorylinePredictor(pipeline.generator, pipeline.predictor).chosen_method() == STORYLINE_TASK:
        planners[STORYLINE_TASK] = StorylinePredictor(pipeline.generator, pipeline.predictor, method=STORYLINE_TASK)
    plans: dict[str, list] = {name: [] for name in [*planners, "rake-spread", "dynamic-gold"]}
    seconds = {name: 0.0 for name in plans}
    for i, case in enumerate(cases):
        context = StoryContext(case.premise)
        for name, planner in planners.items():
            t = time.perf_counter()
            plans[name].append(planner.predict(context, 4, seed=i).slots)
            seconds[name] += time.perf_counter() - t
        plans["rake-spread"].append(rake_spread(case.premise, 4))
        t = time.perf_counter()
        plans["dynamic-gold"].append([pipeline.predictor.predict(StoryContext(case.premise, case.story.sentences[1:j]),
                                                                 seed=i + j).keywords for j in range(1, 5)])
        seconds["dynamic-gold"] += time.perf_counter() - t
        if (i + 1) % 20 == 0:
            print(f"{i + 1} stories", file=sys.stderr, flush=True)
    gold = [list(c.story.keywords[1:5]) for c in cases]
    figures = {name: {**storyline_overlap(p, gold).to_dict(), "seconds_per_story": seconds[name] / len(cases)}
               for name, p in plans.items()}
    report = {"model": pipeline.model_id, "split": f"Plan-and-Write test, stories {args.offset}-"
              f"{args.offset + len(cases) - 1}", "figures": figures}
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({**report, "plans": plans, "gold": gold}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

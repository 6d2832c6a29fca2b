"""`python -m engine preference-pairs`: pairs for the preference stage from training stories.

For sentence i of a training story the human sentence is chosen and the current model's
sample for the same story, keywords and knowledge is rejected; the file has the format
`python -m app pairs` exports, so `engine train --preferences FILE` reads either.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "preference-pairs",
        help="write DPO pairs: the human sentence (chosen) against the model's own sample (rejected)",
        description="Samples the current model (with the shipped adapter unless --adapter says otherwise) on "
        "ROCStories training stories (never the test files) and writes JSONL pairs for `engine train --preferences`.",
    )
    p.add_argument("--out", required=True, help="JSONL file to write")
    p.add_argument("--stories", type=int, default=200, help="training stories to sample (one sentence each)")
    p.add_argument("--offset", type=int, default=20_000, help="first story of the ROCStories training sample")
    p.add_argument("--adapter", default="auto", help="adapter of the model that samples (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0, help="which sentence of each story, and sampling")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    p.set_defaults(func=run_preference_pairs)


def run_preference_pairs(args) -> int:
    from engine.build import build_pipeline
    from engine.loading import LoadConfig
    from engine.training.data import sentence_keywords
    from engine.training.text import default_truecaser, read_rocstories_train
    from engine.types import SamplingParams, StoryContext

    stories = read_rocstories_train(truecaser=default_truecaser(), limit=args.offset + args.stories)[args.offset:]
    pipeline = build_pipeline(LoadConfig(adapter=args.adapter, threads=args.threads))
    rng, start, written = random.Random(args.seed), time.perf_counter(), 0
    with Path(args.out).open("w", encoding="utf-8") as handle:
        for number, story in enumerate(stories):
            i = rng.randrange(1, len(story.sentences))
            keywords = sentence_keywords(story, i)
            context = StoryContext(story.sentences[0], tuple(story.sentences[1:i]))
            step = pipeline.next_step(context, keywords=keywords or None, params=SamplingParams(seed=args.seed + number))
            if step.sentence.strip() == story.sentences[i].strip():
                continue
            meta = {"source": "rocstories.train", "story": args.offset + number, "sentence": i + 1,
                    "chosen": {"keywords": step.keywords, "facts": [f.to_dict() for f in step.facts]}}
            handle.write(json.dumps({"prompt": context.text(), "chosen": story.sentences[i],
                                     "rejected": step.sentence, "meta": meta}) + "\n")
            written += 1
    print(json.dumps({"pairs": written, "out": args.out, "minutes": round((time.perf_counter() - start) / 60, 1)}))
    return 0

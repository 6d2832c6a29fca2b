"""Whole stories per sequence against one example per sequence: useful target tokens per second.

Both builders encode the examples of the same stories; each trains the default model's LoRA
for the same number of optimizer steps over the same examples, side by side in one run.
"Sentence targets" are the tokens of the generator's and keyword predictor's answers (what
the per-sentence builder learns); packed stories also learn the story's own sentences,
reported separately. Prints the load average before and after: the machine is shared.

    python benchmarks/bench_packing.py --stories 48 --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def target_counts(encoded) -> tuple[int, int]:
    """(sentence-task target tokens, story trunk target tokens) of encoded sequences."""
    from engine.training.data import IGNORE

    tasks = trunk = 0
    for e in encoded:
        for i, label in enumerate(e.labels):
            if label == IGNORE:
                continue
            if e.segments is not None and e.segments[i] == 0:
                trunk += 1
            else:
                tasks += 1
    return tasks, trunk


def run_builder(loaded, encoded, *, steps: int, rows: int) -> float:
    """Seconds for `steps` optimizer steps of `rows` sequences each (LoRA r=8, as shipped)."""
    from engine.training.trainer import TrainConfig, Trainer

    config = TrainConfig(batch_size=rows, micro_batch_size=rows, max_steps=steps, eval_every=10_000,
                         save_every=10_000, warmup_steps=1)
    out = Path(tempfile.mkdtemp())
    trainer = Trainer(loaded.model, loaded.tokenizer, encoded, encoded[:rows], config=config, out_dir=out, progress=False)
    start = time.perf_counter()
    for step in range(steps):
        batch = [(step * rows + i) % len(encoded) for i in range(rows)]
        trainer.train_step(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", default="data/training/v4/examples.jsonl", help="built examples (engine train)")
    parser.add_argument("--stories", type=int, default=48)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from engine.loading import LoadConfig, load_model
    from engine.training.data import encode, read_examples
    from engine.training.packing import PackConfig, group_by_story, pack_story

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    examples = read_examples(Path(args.examples))
    stories = group_by_story(examples)[: args.stories]
    chosen = [e for group in stories for e in group]
    figures = {"stories": len(stories), "examples": len(chosen), "load_before": [round(x, 2) for x in load_before]}
    for name in ("per_sentence", "packed"):
        loaded = load_model(LoadConfig(model="default", device_map="cpu", dtype="float32", adapter="none",
                                       threads=args.threads))
        if name == "packed":
            encoded = [pack_story(loaded.tokenizer, g, config=PackConfig()) for g in stories]
        else:
            encoded = [encode(loaded.tokenizer, e, max_tokens=192) for e in chosen]
        tasks, trunk = target_counts(encoded)
        # The same examples in the same number of steps: rows per step scale with sequences.
        rows = max(1, round(len(encoded) / args.steps))
        seconds = run_builder(loaded, encoded, steps=args.steps, rows=rows)
        seen = min(len(encoded), rows * args.steps) / len(encoded)
        figures[name] = {"sequences": len(encoded), "tokens": sum(len(e.input_ids) for e in encoded),
                         "sentence_targets": tasks, "story_targets": trunk, "seconds": round(seconds, 1),
                         "sentence_targets_per_s": round(tasks * seen / seconds, 1),
                         "all_targets_per_s": round((tasks + trunk) * seen / seconds, 1)}
    a, b = figures["per_sentence"], figures["packed"]
    figures["ratio_sentence_targets"] = round(b["sentence_targets_per_s"] / a["sentence_targets_per_s"], 2)
    figures["ratio_all_targets"] = round(b["all_targets_per_s"] / a["all_targets_per_s"], 2)
    figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

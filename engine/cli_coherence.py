"""`python -m engine train-coherence`: train the coherence reranker on training stories."""

from __future__ import annotations

import json
import time
from pathlib import Path

DEFAULT_OUT = Path("assets") / "coherence"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-coherence",
        help="train the coherence reranker (a discriminator of real next sentences) and report Story Cloze accuracy",
        description="Builds (story so far, sentence) pairs from the ROCStories training sample, Plan-and-Write dev "
        "and Story Cloze val (never the test files, never the held-out Story Cloze slice), trains the "
        "discriminator over the ranker's sentence embeddings, and prints its accuracy on held-out Story Cloze.",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: assets/coherence)")
    p.add_argument("--train-stories", type=int, default=3000, help="stories of the ROCStories training sample")
    p.add_argument("--plan-write-stories", type=int, default=1000, help="Plan-and-Write dev stories")
    p.add_argument("--cloze-stories", type=int, default=-1, help="Story Cloze val training stories (-1: all but held out)")
    p.add_argument("--epochs", type=int, default=6, help="passes over the pairs")
    p.add_argument("--preset", default="default", choices=("default", "tiny"), help="discriminator size")
    p.add_argument("--seed", type=int, default=0, help="draws of negatives and initial weights")
    p.set_defaults(func=run_train_coherence)


def run_train_coherence(args) -> int:
    result = train_coherence(out=Path(args.out), train_stories=args.train_stories,
                             plan_write_stories=args.plan_write_stories, cloze_stories=args.cloze_stories,
                             epochs=args.epochs, preset=args.preset, seed=args.seed)
    print(json.dumps(result, indent=1))
    return 0


def train_coherence(*, out: Path, train_stories: int, plan_write_stories: int, cloze_stories: int, epochs: int,
                    preset: str = "default", seed: int = 0, encode=None) -> dict:
    """Train, measure on held-out Story Cloze, save to `out`; returns the figures."""
    import torch

    from engine.coherence import CoherenceConfig, CoherenceReranker, ranker_encoder, save_scorer
    from engine.training.coherence_data import cloze_pairs, read_cloze_cases, story_pairs
    from engine.training.coherence_train import CoherenceTrainConfig, cloze_accuracy, pair_features, train_scorer
    from engine.training.run import load_stories

    start = time.perf_counter()
    if encode is None:
        from engine.knowledge.rank import EmbeddingRanker

        encode = ranker_encoder(EmbeddingRanker())
    stories = load_stories(train_stories=train_stories, plan_write_stories=plan_write_stories, cloze_stories=0)
    cloze = read_cloze_cases(held_out=False)
    cloze = cloze if cloze_stories < 0 else cloze[:cloze_stories]
    pairs = story_pairs(stories, seed=seed) + cloze_pairs(cloze)
    features = pair_features(pairs, encode)
    labels = torch.tensor([p.label for p in pairs])
    scorer, losses = train_scorer(features, labels, model_config=CoherenceConfig.from_name(preset),
                                  config=CoherenceTrainConfig(epochs=epochs, seed=seed))
    held = read_cloze_cases(held_out=True)
    right, total = cloze_accuracy(CoherenceReranker(scorer, encode), held)
    kinds: dict[str, int] = {}
    for p in pairs:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    figures = {"pairs": len(pairs), "kinds": kinds, "stories": len(stories), "cloze_train": len(cloze),
               "losses": [round(x, 4) for x in losses], "cloze_heldout_accuracy": right / total if total else None,
               "cloze_heldout_right": right, "cloze_heldout_stories": total,
               "minutes": round((time.perf_counter() - start) / 60, 1)}
    save_scorer(scorer, out, {k: v for k, v in figures.items() if k != "losses"})
    return figures

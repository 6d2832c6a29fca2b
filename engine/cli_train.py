"""`python -m engine train`: train the CNTRL adapter on ROCStories (Plan-and-Write dev + Story Cloze val)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, fields
from pathlib import Path

from engine.training.trainer import TrainConfig


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the keyword predictor and conditional generator (one LoRA adapter) on ROCStories",
        description="Builds CNTRL examples from Plan-and-Write dev and Story Cloze val, then fine-tunes with "
        "LoRA (or --full) on accelerate. Run under `accelerate launch` for data parallelism.",
    )
    p.add_argument("--out", default=None, help="output folder (default: <data dir>/training/cntrl)")
    p.add_argument("--preset", default="default", choices=("default", "tiny"), help="training preset")
    p.add_argument("--train-stories", type=int, default=-1,
                   help="stories of the ROCStories training sample to use (-1: all 23,558; 0: none)")
    p.add_argument("--plan-write-stories", type=int, default=-1, help="Plan-and-Write dev stories to use (-1: all)")
    p.add_argument("--cloze-stories", type=int, default=-1,
                   help="Story Cloze val stories to use (-1: all but the slice held out for the reranker)")
    p.add_argument("--val-share", type=float, default=0.04, help="share of stories held out for validation")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    p.add_argument("--kb", help="knowledge store for the examples' facts (default: <data dir>/knowledge.db)")
    p.add_argument("--no-knowledge", action="store_true", help="examples without facts")
    p.add_argument("--ranker", default="lexical", choices=("lexical", "embedding"),
                   help="how the examples' facts are ranked against the story (embedding: the product's ranker, slow)")
    p.add_argument("--model", default="default", help="base model to train (as for --model elsewhere)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0: all)")
    p.add_argument("--preferences", metavar="FILE",
                   help="instead of supervised training, DPO on these JSONL pairs (as `python -m app pairs` exports) "
                   "starting from --init-adapter (default: the shipped adapter)")
    p.add_argument("--beta", type=float, default=0.1, help="(preferences) DPO beta")
    p.add_argument("--epochs", type=int, default=1, help="(preferences) passes over the pairs")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, action="store_true", default=None, help=f"(training) {f.name}")
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(f.type).split(" ")[0], float)
            p.add_argument(flag, type=kind, default=None, help=f"(training) {f.name}, preset value when omitted")
    p.set_defaults(func=run_train)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    return TrainConfig.from_name(args.preset, **overrides)


def run_train(args: argparse.Namespace) -> int:
    if args.preferences:
        return run_preferences(args)
    from engine import paths
    from engine.training.run import is_main_process, prepare_examples, train_adapter

    config = train_config_from_args(args)
    out = Path(args.out) if args.out else paths.data_dir(args.data_dir) / "training" / "cntrl"
    start = time.perf_counter()
    examples = prepare_examples(
        out=out, data_dir=args.data_dir, kb=args.kb, knowledge=not args.no_knowledge, preset=args.preset,
        train_stories=args.train_stories, plan_write_stories=args.plan_write_stories,
        cloze_stories=args.cloze_stories, reuse=args.resume, ranker=args.ranker,
    )
    result = train_adapter(
        model=args.model, data_dir=args.data_dir, examples=examples, out=out, config=config,
        val_share=args.val_share, resume=args.resume, threads=args.threads,
    )
    summary = {**asdict(result.state), "out": str(out), "adapter": str(out / "adapter"),
               "minutes": (time.perf_counter() - start) / 60}
    if is_main_process():
        print(json.dumps(summary, indent=1))
    return 0


def run_preferences(args: argparse.Namespace) -> int:
    """DPO on a preference file from the supervised adapter; the tuned adapter lands in <out>/adapter."""
    from engine import paths
    from engine.adapters import DEFAULT_ADAPTER
    from engine.loading import LoadConfig, load_model
    from engine.training.checkpoint import save_adapter
    from engine.training.preferences import DPOConfig, read_preferences, train_dpo
    from engine.training.trainer import wrap_model

    pairs = read_preferences(Path(args.preferences))
    out = Path(args.out) if args.out else paths.data_dir(args.data_dir) / "training" / "cntrl-dpo"
    start_from = args.init_adapter or str(DEFAULT_ADAPTER)
    loaded = load_model(LoadConfig(model=args.model, data_dir=args.data_dir, device_map="cpu", dtype="float32",
                                   threads=args.threads, adapter="none"))
    model = wrap_model(loaded.model, TrainConfig(init_adapter=start_from))
    config = DPOConfig(beta=args.beta, lr=args.lr or DPOConfig.lr, epochs=args.epochs, seed=args.seed or 0)
    start = time.perf_counter()
    figures = train_dpo(model, loaded.tokenizer, pairs, config=config)
    figures["minutes"] = (time.perf_counter() - start) / 60
    manifest = {"base_model": loaded.model_id, "stage": "dpo", "init_adapter": start_from,
                "preferences": str(args.preferences), **{k: v for k, v in figures.items() if k != "losses"}}
    save_adapter(model, loaded.tokenizer, out / "adapter", full=False, manifest=manifest)
    print(json.dumps({**manifest, "final_loss": figures["losses"][-1] if figures["losses"] else None,
                      "adapter": str(out / "adapter")}, indent=1))
    return 0

"""`python -m engine prepare`: make the default model and knowledge base ready offline."""

from __future__ import annotations

import argparse
import time


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="convert the default model into the data directory and build the default knowledge base",
        description="Idempotent: converts the model's GGUF once (later starts load the converted copy) "
        "and builds the WordNet knowledge base unless it is already there.",
    )
    p.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    p.add_argument("--model", default=None, help="model to prepare (default: the default model)")
    p.add_argument(
        "--skip-knowledge", action="store_true", help="do not build the WordNet knowledge base"
    )
    p.add_argument("--print-path", action="store_true",
                   help="only print the folder of the converted model (converting it first if needed), "
                   "for servers such as vLLM that load it")
    p.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from engine.cli import main as engine_main
    from engine.loading import LoadConfig, load_model

    if args.print_path:
        from engine.loading import load_tokenizer

        print(load_tokenizer(LoadConfig(data_dir=args.data_dir) if args.model is None
                               else LoadConfig(model=args.model, data_dir=args.data_dir))[3])
        return 0
    start = time.perf_counter()
    config = (
        LoadConfig(data_dir=args.data_dir)
        if args.model is None
        else LoadConfig(model=args.model, data_dir=args.data_dir)
    )
    loaded = load_model(config)
    print(f"model {loaded.model_id}: ready ({loaded.source}, {loaded.load_seconds:.1f} s)")
    del loaded
    if not args.skip_knowledge:
        kb_args = ["kb", "build-wordnet"] + (["--data-dir", args.data_dir] if args.data_dir else [])
        code = engine_main(kb_args)
        if code:
            return code
    print(f"prepared in {time.perf_counter() - start:.1f} s")
    return 0

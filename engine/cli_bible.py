"""`python -m engine bible-check`: the same stories with and without the story bible, side by side."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path


def register(subparsers) -> None:
    from engine.cli_write import add_sampling_args
    from engine.loading import add_loading_args

    p = subparsers.add_parser(
        "bible-check", help="measure what the story bible changes on hand-written cases",
        description="Each case's story is written twice with the same seeds and keywords, with its bible entries "
        "and without them; every sentence is scored by the case's contradiction and support patterns, and the "
        "report gives the share of consistent sentences, of sentences using an entry, of sentences whose prompt "
        "held an entry, and seconds per sentence, for both conditions (docs/bible.md).")
    p.add_argument("--cases", help="cases file (default: assets/evaluation/bible_cases.json)")
    p.add_argument("--limit", type=int, help="first N cases only (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="stories per case and condition, paired by seed (default 3)")
    p.add_argument("--out", help="write the JSON report, with every sentence, to this file")
    p.add_argument("--rescore", metavar="REPORT",
                   help="write nothing: score the sentences of an earlier --out report again with the cases file "
                   "(after its checks were edited)")
    p.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    p.add_argument("--kb", help="knowledge store file (default: $CNTRL_KB or <data dir>/knowledge.db)")
    p.add_argument("--no-knowledge", action="store_true", help="no WordNet/ConceptNet facts: the bible alone")
    p.add_argument("--ranker", default="embedding", help="knowledge ranker: embedding (default) or null")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    add_sampling_args(p)
    add_loading_args(p)
    p.set_defaults(func=run_bible_check_cli)


def run_bible_check_cli(args: argparse.Namespace) -> int:
    from engine.cli_write import params_from_args
    from engine.evaluation.bible_check import format_report, load_cases, rescore

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    if not 1 <= args.seeds <= 100:
        raise ValueError("--seeds must be between 1 and 100")
    params = params_from_args(args)
    cases = load_cases(args.cases, limit=args.limit)
    if args.rescore:
        earlier = json.loads(Path(args.rescore).read_text(encoding="utf-8"))
        report = rescore(earlier, cases)
        report["run"] = {**report["run"], "rescored_with": str(args.cases or "the shipped cases file")}
    else:
        report = bible_check(args, cases, params)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(_header(report))
    print(format_report(report))
    return 0


def bible_check(args: argparse.Namespace, cases, params) -> dict:
    """Load the pipeline the flags name, run the check, and add what the run was (model, load, time)."""
    # Imported after the flag checks, so bad flags fail at once instead of after loading torch.
    from engine.build import KnowledgeOptions, build_pipeline
    from engine.evaluation.bible_check import CASES_FILE, progress_to_stderr, run_bible_check
    from engine.loading import load_config_from_args

    load = load_config_from_args(args)
    load.threads = args.threads
    load_before = os.getloadavg()
    started = time.perf_counter()
    knowledge = KnowledgeOptions(kb_path=args.kb, ranker=args.ranker, enabled=not args.no_knowledge)
    pipeline = build_pipeline(load, knowledge=knowledge, predictor="rake")
    base_seed = params.seed if params.seed is not None else 0
    report = run_bible_check(pipeline, cases, seeds=args.seeds, base_seed=base_seed, params=params,
                             log=progress_to_stderr)
    run = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "model": pipeline.model_id, "adapter": getattr(pipeline.generator, "adapter", None),
           "knowledge": pipeline.knowledge_note, "cases_file": str(args.cases or CASES_FILE),
           "cases": len(cases), "seeds": args.seeds, "base_seed": base_seed, "params": params.to_dict(),
           "threads": args.threads, "load_average_before": list(load_before),
           "load_average_after": list(os.getloadavg()), "minutes": (time.perf_counter() - started) / 60}
    return {"run": run, **report}


def _header(report: dict) -> str:
    run = report["run"]
    if "rescored_with" in run:
        return f"{run.get('model', '?')}: the sentences of an earlier run, scored again with {run['rescored_with']}\n"
    return (f"model {run['model']} | {run['knowledge']}\n{run['cases']} cases x {run['seeds']} seeds, "
            f"{run['minutes']:.1f} min, load average {run['load_average_before'][0]:.1f} before / "
            f"{run['load_average_after'][0]:.1f} after\n")

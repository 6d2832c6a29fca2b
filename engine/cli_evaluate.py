"""`python -m engine evaluate`: systems side by side on the same held-out cases, one table."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from engine.evaluation.harness import METRICS


def register(subparsers) -> None:
    from engine.backends import BACKENDS

    p = subparsers.add_parser(
        "evaluate",
        help="compare plain, prompted and trained generation (and ablations) with the human stories",
        description="Every system on the same Plan-and-Write cases: gold next-sentence perplexity, keyword "
        "inclusion, antonym controllability, Repeat-4, Distinct-4, odd sentences, knowledge use, fluency "
        "(a second model), storyline overlap with the gold storyline and seconds per sentence.",
    )
    p.add_argument("--systems", default="plain,prompted,trained",
                   help="comma-separated systems: plain, prompted, trained, and ablations such as "
                   "prompted-no-knowledge, trained-no-knowledge, trained-unguided, trained-rake, and trained-static "
                   "(plan the storyline first, then write to it)")
    p.add_argument("--ablations", action="store_true", help="add every ablation to --systems")
    p.add_argument("--split", default="test", choices=("dev", "test"),
                   help="Plan-and-Write split (dev for tuning; test for reported figures). Default: test")
    p.add_argument("--limit", type=int, default=20, help="cases (stories) to evaluate (default 20)")
    p.add_argument("--offset", type=int, default=0, help="skip this many stories first")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--preset", default="balanced", choices=("balanced", "precise", "creative", "greedy"),
                   help="sampling preset for every system (default balanced)")
    p.add_argument("--scorer", default="gemma3-270m",
                   help="fluency scorer: gemma3-270m (default), any model spec, or none")
    p.add_argument("--adapter", default="auto", help="the trained system's adapter (default: the shipped one)")
    p.add_argument("--data-dir", help="data directory (default: $CNTRL_DATA_DIR or <repo>/data)")
    p.add_argument("--kb", help="knowledge store (default: <data dir>/knowledge.db)")
    p.add_argument("--stories-out", help="write every system's stories (and the human ones) to this JSONL file")
    p.add_argument("--json", action="store_true", help='print {"systems": {NAME: {METRIC: value}}}')
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    p.add_argument("--backend", default="torch", choices=BACKENDS,
                   help="what writes the systems' sentences (default torch, so figures compare across runs; auto as "
                   "elsewhere); gold perplexity is always "
                   "scored by the torch copy of the same weights")
    p.add_argument("--server-url", help="vllm: the server's OpenAI API, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--served-model", help="vllm: the trained system's model name (default: the adapter's name)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from engine.evaluation.systems import ABLATIONS, system_spec

    names = [n.strip() for n in args.systems.split(",") if n.strip()] + (list(ABLATIONS) if args.ablations else [])
    specs = [system_spec(n) for n in dict.fromkeys(names)]
    if not 1 <= args.limit <= 10_000:
        raise ValueError("--limit must be between 1 and 10000")
    from engine.evaluation.run import evaluate

    started = time.perf_counter()
    report = evaluate(specs=specs, split=args.split, limit=args.limit, offset=args.offset, seed=args.seed,
                      preset=args.preset, scorer=args.scorer, adapter=args.adapter, data_dir=args.data_dir,
                      kb=args.kb, threads=args.threads, stories_out=args.stories_out, backend=args.backend,
                      server_url=args.server_url, served_model=args.served_model)
    report["minutes"] = (time.perf_counter() - started) / 60
    report["load_average"] = list(os.getloadavg())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report), file=sys.stdout)
    return 0


def format_table(report: dict) -> str:
    """The systems as rows, the metrics as columns; shares in percent, n/a where a metric does not apply."""
    heads = ["system"] + [m.replace("_", " ") for m in METRICS]
    rows = []
    for name, row in report["systems"].items():
        cells = [name]
        for m in METRICS:
            v = row.get(m)
            if v is None:
                cells.append("n/a")
            elif m in ("gold_ppl", "fluency_ppl", "words_per_sentence"):
                cells.append(f"{v:.1f}")
            elif m == "seconds_per_sentence":
                cells.append(f"{v:.2f}")
            else:
                cells.append(f"{100 * v:.1f}%")
        rows.append(cells)
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))  # noqa: E731
    notes = [f"{k}: {v}" for k, v in report.get("notes", {}).items()]
    return "\n".join([line(heads), *map(line, rows), "", *notes])

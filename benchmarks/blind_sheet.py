"""A blind reading sheet from `engine evaluate --stories-out`: stories shuffled, systems hidden.

    python benchmarks/blind_sheet.py STORIES.jsonl --systems human,prompted,trained --sheet sheet.md --key key.json
    python benchmarks/blind_sheet.py STORIES.jsonl --key key.json --scores scores.json   # unblind a reader's scores

The sheet numbers every continuation and shows only its premise and sentences; the key maps
numbers to systems. A reader's scores (`{"1": {"overall": 4}, ...}`) are averaged per system.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path


def make_sheet(rows: list[dict], systems: list[str], seed: int) -> tuple[str, dict]:
    chosen = [r for r in rows if r["system"] in systems]
    random.Random(seed).shuffle(chosen)
    key, parts = {}, []
    for number, row in enumerate(chosen, start=1):
        key[str(number)] = {"system": row["system"], "case": row["case"]}
        parts.append(f"### {number}\n\nPremise: {row['premise']}\n\nContinuation: {' '.join(row['sentences'])}\n")
    return "\n".join(parts), key


def unblind(key: dict, scores: dict) -> dict:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for number, given in scores.items():
        for criterion, value in given.items():
            per[key[number]["system"]][criterion].append(float(value))
    return {s: {c: round(sum(v) / len(v), 2) for c, v in crit.items()} | {"n": len(next(iter(crit.values())))}
            for s, crit in per.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stories")
    parser.add_argument("--systems", default="human,prompted,trained")
    parser.add_argument("--sheet", help="write the blind sheet (Markdown) here")
    parser.add_argument("--key", required=True, help="the key: written with --sheet, read with --scores")
    parser.add_argument("--scores", help="a reader's scores to unblind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.scores:
        key = json.loads(Path(args.key).read_text())
        print(json.dumps(unblind(key, json.loads(Path(args.scores).read_text())), indent=1))
        return 0
    rows = [json.loads(line) for line in Path(args.stories).read_text().splitlines() if line.strip()]
    sheet, key = make_sheet(rows, [s.strip() for s in args.systems.split(",")], args.seed)
    Path(args.sheet or "sheet.md").write_text(sheet)
    Path(args.key).write_text(json.dumps(key, indent=1))
    print(f"{len(key)} continuations -> {args.sheet or 'sheet.md'}; key -> {args.key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

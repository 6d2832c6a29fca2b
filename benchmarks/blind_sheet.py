"""A blind reading sheet from `engine evaluate --stories-out`: stories shuffled, systems hidden.

    python benchmarks/blind_sheet.py STORIES.jsonl --systems human,prompted,trained --sheet sheet.md --key key.json
    python benchmarks/blind_sheet.py STORIES.jsonl --key key.json --scores scores.json   # unblind a reader's scores
    python benchmarks/blind_sheet.py - --key docs/readings/rerank/key.json --scores docs/readings/rerank/scores.json  # an A/B sheet

The sheet numbers every continuation and shows only its premise and sentences; the key maps
numbers to systems. A reader's scores (`{"1": {"overall": 4}, ...}`) are averaged per system, with the count
rated 4 or more; an A/B sheet's (`{"1": {"better": "A", "A": 3, "B": 2}}`) give wins per system.
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
    return {s: {c: round(sum(v) / len(v), 2) for c, v in crit.items()}
            | {f"{c}_4_or_more": sum(x >= 4 for x in v) for c, v in crit.items()}
            | {"n": len(next(iter(crit.values())))}
            for s, crit in per.items()}


def unblind_pairs(key: dict, scores: dict) -> dict:
    """A/B sheets (key: {number: {"A": system, "B": system}}, scores: {number: {"better", "A", "B"}}):
    wins per system, ties, and each system's mean score and count rated 4 or more."""
    wins: dict[str, int] = defaultdict(int)
    marks: dict[str, list[float]] = defaultdict(list)
    ties = 0
    for number, given in scores.items():
        sides = key[number]
        if given["better"] in ("A", "B"):
            wins[sides[given["better"]]] += 1
        else:
            ties += 1
        for side in ("A", "B"):
            marks[sides[side]].append(float(given[side]))
    return {"pairs": len(scores), "ties": ties, "wins": dict(wins),
            "mean": {s: round(sum(v) / len(v), 2) for s, v in marks.items()},
            "rated_4_or_more": {s: sum(x >= 4 for x in v) for s, v in marks.items()}}


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
        scores = json.loads(Path(args.scores).read_text())
        pairs = key and "A" in next(iter(key.values()))
        print(json.dumps((unblind_pairs if pairs else unblind)(key, scores), indent=1))
        return 0
    rows = [json.loads(line) for line in Path(args.stories).read_text().splitlines() if line.strip()]
    sheet, key = make_sheet(rows, [s.strip() for s in args.systems.split(",")], args.seed)
    Path(args.sheet or "sheet.md").write_text(sheet)
    Path(args.key).write_text(json.dumps(key, indent=1))
    print(f"{len(key)} continuations -> {args.sheet or 'sheet.md'}; key -> {args.key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

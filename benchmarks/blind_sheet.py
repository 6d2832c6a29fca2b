"""A blind reading sheet from `engine evaluate --stories-out`: stories shuffled, systems hidden.

    python benchmarks/blind_sheet.py STORIES.jsonl --systems human,prompted,trained --sheet sheet.md --key key.json
    python benchmarks/blind_sheet.py STORIES.jsonl --key key.json --scores scores.json   # unblind a reader's scores
    python benchmarks/blind_sheet.py - --key docs/readings/rerank/key.json --scores docs/readings/rerank/scores.json  # an A/B sheet
    python benchmarks/blind_sheet.py - --key KEY --scores SCORES --paired static,dynamic   # case-paired differences

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


def paired_differences(key: dict, scores: dict, first: str, second: str, *, rounds: int = 2000,
                       seed: int = 0) -> dict:
    """Mean score of `first` minus `second` over the cases both wrote, per criterion, with a 95%
    bootstrap interval over cases (the two systems' continuations of one premise are a pair)."""
    by_case: dict[str, dict[int, dict]] = defaultdict(dict)
    for number, given in scores.items():
        entry = key[number]
        by_case[entry["system"]][entry["case"]] = given
    cases = sorted(set(by_case[first]) & set(by_case[second]))
    rng = random.Random(seed)
    out = {"cases": len(cases)}
    for criterion in sorted(next(iter(scores.values()))):
        diffs = [by_case[first][c][criterion] - by_case[second][c][criterion] for c in cases]
        means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(rounds))
        out[criterion] = {"difference": round(sum(diffs) / len(diffs), 2),
                          "interval_95": [round(means[int(0.025 * rounds)], 2), round(means[int(0.975 * rounds) - 1], 2)],
                          "first_higher": sum(d > 0 for d in diffs), "second_higher": sum(d < 0 for d in diffs)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stories")
    parser.add_argument("--systems", default="human,prompted,trained")
    parser.add_argument("--sheet", help="write the blind sheet (Markdown) here")
    parser.add_argument("--key", required=True, help="the key: written with --sheet, read with --scores")
    parser.add_argument("--scores", help="a reader's scores to unblind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paired", metavar="FIRST,SECOND", help="with --scores: FIRST minus SECOND, case by case")
    args = parser.parse_args()
    if args.scores:
        key = json.loads(Path(args.key).read_text())
        scores = json.loads(Path(args.scores).read_text())
        if args.paired:
            first, second = args.paired.split(",")
            print(json.dumps(paired_differences(key, scores, first, second), indent=1))
            return 0
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

"""What the story bible changes: the same stories written with and without it, scored by hand-written checks.

For every case and seed the story is written twice, sentence by sentence, with the same seeds and the
same keyword plan: once with the case's bible entries in the `StoryContext`, once with `bible=()`.
Each generated sentence is scored against the case's entries (`score_sentence`): it is *consistent*
when no entry's `contradicts` pattern matches, it *uses* an entry when a `supports` pattern matches,
and an entry was *drawn* when a fact with source "bible" reached the prompt (`Step.facts`). Read top
to bottom: the cases, the scoring, the writing, the report.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine import bible, paths
from engine.bible import LoreEntry
from engine.types import SamplingParams, Step, StoryContext

CASES_FILE = paths.asset("evaluation", "bible_cases.json")
CONDITIONS = ("with_bible", "without_bible")
SEED_STRIDE = 1000  # seed k of a case starts at base + k * SEED_STRIDE; sentence i adds i

# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class EntryCheck:
    """A bible entry and the patterns that score sentences against it."""

    entry: LoreEntry
    contradicts: tuple[re.Pattern[str], ...]
    supports: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class BibleCase:
    """A premise, its bible with checks, and the keywords of each sentence to write."""

    id: str
    premise: str
    checks: tuple[EntryCheck, ...]
    plans: tuple[tuple[str, ...], ...]

    @property
    def bible(self) -> tuple[LoreEntry, ...]:
        return tuple(check.entry for check in self.checks)


def load_cases(path: str | Path | None = None, *, limit: int | None = None) -> list[BibleCase]:
    """The cases of a JSON file (default: the shipped asset); ValueError names the first bad one."""
    path = Path(path) if path else CASES_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    raw = doc.get("cases") if isinstance(doc, dict) else None
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path} has no cases: expected {{\"cases\": [...]}}")
    cases = [_case(item, number) for number, item in enumerate(raw, start=1)]
    return cases[:limit] if limit else cases


def _case(item: Any, number: int) -> BibleCase:
    where = f"case {number}"
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object")
    where = f"case {item.get('id', number)!r}"
    premise, entries, plans = item.get("premise"), item.get("entries"), item.get("plans")
    if not isinstance(premise, str) or not premise.strip():
        raise ValueError(f"{where} needs a premise")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{where} needs at least one bible entry")
    if not isinstance(plans, list) or not plans or not all(_words(p) for p in plans):
        raise ValueError(f"{where} needs plans: a list of keyword lists, one per sentence")
    checks = tuple(_check(entry, where) for entry in entries)
    return BibleCase(str(item.get("id", number)), premise.strip(), checks, tuple(tuple(p) for p in plans))


def _check(entry: Any, where: str) -> EntryCheck:
    if not isinstance(entry, dict) or not entry.get("name") or not entry.get("text"):
        raise ValueError(f"{where}: every entry needs a name and a text")
    keys = entry.get("keys", [])
    if not _words(keys) and not entry.get("always"):
        raise ValueError(f"{where}: entry {entry['name']!r} needs keys or always: true")
    made = LoreEntry(entry["name"], tuple(keys), entry["text"], bool(entry.get("always", False)))
    return EntryCheck(made, _patterns(entry.get("contradicts", []), where), _patterns(entry.get("supports", []), where))


def _words(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v.strip() for v in value)


def _patterns(raw: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ValueError(f"{where}: contradicts and supports must be lists of regular expressions")
    try:
        return tuple(re.compile(p, re.IGNORECASE) for p in raw)
    except re.error as exc:
        raise ValueError(f"{where}: bad regular expression {exc.pattern!r}: {exc}") from None


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Verdict:
    """What one sentence does to the entries: (entry name, matched text) pairs."""

    contradicts: tuple[tuple[str, str], ...]
    supports: tuple[tuple[str, str], ...]

    @property
    def consistent(self) -> bool:
        return not self.contradicts

    @property
    def uses_entry(self) -> bool:
        return bool(self.supports)


def score_sentence(sentence: str, checks: Iterable[EntryCheck]) -> Verdict:
    """The entries a sentence contradicts and those it shows it used, with the text each pattern matched."""
    contradicts, supports = [], []
    for check in checks:
        for patterns, found in ((check.contradicts, contradicts), (check.supports, supports)):
            match = next((m for m in (p.search(sentence) for p in patterns) if m), None)
            if match:
                found.append((check.entry.name, match.group(0)))
    return Verdict(tuple(contradicts), tuple(supports))


def mentions(sentence: str, entries: Iterable[LoreEntry]) -> list[str]:
    """Names of the entries one of whose keys the sentence contains (as the bible matches keys)."""
    context = StoryContext(sentence)
    return [fact.head for fact in bible.triggered(entries, [], context).matched]


# --------------------------------------------------------------------------- writing


def triggered_names(case: BibleCase, keywords: Iterable[str], premise: str, previous: Iterable[str]) -> list[str]:
    """The entries the bible triggers for a sentence (always, or by key), before the ranker chooses."""
    lore = bible.triggered(case.bible, list(keywords), StoryContext(premise, tuple(previous)))
    return [fact.head for fact in [*lore.always, *lore.matched]]


def score_row(row: dict, case: BibleCase) -> dict:
    """The scored fields of one sentence row: contradictions, support, entries named."""
    verdict = score_sentence(row["sentence"], case.checks)
    return {"mentions": mentions(row["sentence"], case.bible),
            "contradicts": [{"entry": n, "match": m} for n, m in verdict.contradicts],
            "supports": [{"entry": n, "match": m} for n, m in verdict.supports],
            "consistent": verdict.consistent, "uses_entry": verdict.uses_entry}


def write_story(pipeline, case: BibleCase, *, with_bible: bool, seed: int, params: SamplingParams) -> list[dict]:
    """One story of `case`, a sentence per plan, scored; sentence i uses seed `seed + i`."""
    context = StoryContext(case.premise, bible=case.bible if with_bible else ())
    rows = []
    for index, keywords in enumerate(case.plans):
        started = time.perf_counter()
        step = pipeline.next_step(context, keywords=list(keywords), params=replace(params, seed=seed + index))
        seconds = time.perf_counter() - started
        row = _step_row(index, step, seconds)
        row["triggered"] = triggered_names(case, step.keywords, case.premise, context.sentences) if with_bible else []
        rows.append({**row, **score_row(row, case)})
        context = context.extend(step.sentence)
    return rows


def _step_row(index: int, step: Step, seconds: float) -> dict:
    return {"index": index, "sentence": step.sentence, "keywords": list(step.keywords), "seed": step.seed,
            "bible_facts": [f.fact.head for f in step.facts if f.fact.source == bible.SOURCE],
            "facts": [f.fact.sentence for f in step.facts], "seconds": round(seconds, 3),
            "tokens": len(step.tokens[0]) if step.tokens else None,
            "timings_ms": {k: round(v) for k, v in step.timings_ms.items()}, "notes": list(step.notes)}


def rescore(report: dict, cases: list[BibleCase]) -> dict:
    """An earlier report's sentences scored again with `cases` (edited checks), without writing anything."""
    if not isinstance(report, dict) or not report.get("stories"):
        raise ValueError("the report has no stories to score: give a file written by bible-check --out")
    by_id = {case.id: case for case in cases}
    missing = sorted({story["case"] for story in report["stories"]} - set(by_id))
    if missing:
        raise ValueError(f"the report's stories need cases that the cases file lacks: {', '.join(missing)}")
    stories = []
    for story in report["stories"]:
        case, rows, previous = by_id[story["case"]], [], []
        for row in story["sentences"]:
            triggered = (triggered_names(case, row["keywords"], story["premise"], previous)
                         if story["condition"] == "with_bible" else [])
            rows.append({**row, "triggered": triggered, **score_row(row, case)})
            previous.append(row["sentence"])
        stories.append({**story, "sentences": rows})
    used = [case for case in cases if case.id in {story["case"] for story in stories}]
    return {"run": report.get("run", {}), **build_report(used, stories)}


def run_bible_check(pipeline, cases: list[BibleCase], *, seeds: int, base_seed: int, params: SamplingParams,
                    log: Callable[[str], None] | None = None) -> dict:
    """Every case x seed written with and without its bible; the report with every sentence.

    Args:
        pipeline: a loaded `Pipeline` (keywords are always given, so its predictor is not asked).
        cases: from `load_cases`.
        seeds: stories per case and condition; seed k starts at `base_seed + k * SEED_STRIDE`.
        base_seed: the first seed.
        params: sampling settings shared by both conditions (the seed is replaced per sentence).
        log: called with one progress line per story.
    """
    _warm_up(pipeline, cases[0], params)
    stories = []
    for case in cases:
        for k in range(seeds):
            seed = base_seed + k * SEED_STRIDE
            # Alternate which condition goes first, so caches and machine load favour neither side.
            order = CONDITIONS if k % 2 == 0 else tuple(reversed(CONDITIONS))
            for condition in order:
                rows = write_story(pipeline, case, with_bible=condition == "with_bible", seed=seed, params=params)
                stories.append({"case": case.id, "seed": seed, "condition": condition, "premise": case.premise,
                                "sentences": rows})
                if log:
                    log(f"{case.id} seed {seed} {condition}: {len(rows)} sentences, "
                        f"{sum(r['seconds'] for r in rows):.1f} s")
    return build_report(cases, stories)


def _warm_up(pipeline, case: BibleCase, params: SamplingParams) -> None:
    """One untimed sentence, so lazy loading (the ranker's model) is not charged to the first condition."""
    pipeline.next_step(StoryContext(case.premise, bible=case.bible), keywords=list(case.plans[0]),
                       params=replace(params, seed=0, max_new_tokens=min(params.max_new_tokens, 8)))


# --------------------------------------------------------------------------- report


def summarize(rows: list[dict]) -> dict:
    """Shares over sentences (fractions), contradiction count and mean seconds per sentence."""
    n = len(rows)
    share = (lambda key: sum(1 for r in rows if key(r)) / n) if n else (lambda key: None)  # noqa: E731
    return {"sentences": n,
            "consistent": share(lambda r: r["consistent"]),
            "uses_entry": share(lambda r: r["uses_entry"]),
            "drawn": share(lambda r: r["bible_facts"]),
            "triggered_in_prompt": _triggered_in_prompt(rows),
            "mentions": share(lambda r: r["mentions"]),
            "contradictions": sum(len(r["contradicts"]) for r in rows),
            "seconds_per_sentence": sum(r["seconds"] for r in rows) / n if n else None}


def _triggered_in_prompt(rows: list[dict]) -> float | None:
    """Of the entries the bible triggered, the share the ranker kept in the prompt (None when none triggered)."""
    triggered = sum(len(r["triggered"]) for r in rows)
    kept = sum(len(set(r["triggered"]) & set(r["bible_facts"])) for r in rows)
    return kept / triggered if triggered else None


def paired(stories: list[dict]) -> dict:
    """Sentence pairs (same case, seed and position) where only one condition is consistent or uses an entry."""
    by_key = {(s["case"], s["seed"], s["condition"]): s["sentences"] for s in stories}
    counts = {"pairs": 0, "only_with_consistent": 0, "only_without_consistent": 0,
              "only_with_uses": 0, "only_without_uses": 0}
    for (case, seed, condition), rows in by_key.items():
        if condition != "with_bible":
            continue
        for a, b in zip(rows, by_key.get((case, seed, "without_bible"), []), strict=False):
            counts["pairs"] += 1
            counts["only_with_consistent"] += a["consistent"] and not b["consistent"]
            counts["only_without_consistent"] += b["consistent"] and not a["consistent"]
            counts["only_with_uses"] += a["uses_entry"] and not b["uses_entry"]
            counts["only_without_uses"] += b["uses_entry"] and not a["uses_entry"]
    return counts


def build_report(cases: list[BibleCase], stories: list[dict]) -> dict:
    """Both conditions side by side, overall and per case, the paired counts, and every story."""
    def rows_of(condition: str, case_id: str | None = None) -> list[dict]:
        return [r for s in stories if s["condition"] == condition and case_id in (None, s["case"])
                for r in s["sentences"]]

    per_case = [{"case": c.id, "premise": c.premise, "entries": [ch.entry.name for ch in c.checks],
                 **{cond: summarize(rows_of(cond, c.id)) for cond in CONDITIONS}} for c in cases]
    return {"conditions": {cond: summarize(rows_of(cond)) for cond in CONDITIONS},
            "paired": paired(stories), "cases": per_case, "stories": stories}


def format_report(report: dict) -> str:
    """The conditions as rows, then one row per case; shares in percent."""
    pct = lambda v: "n/a" if v is None else f"{100 * v:.0f}%"  # noqa: E731
    heads = ["condition", "sentences", "consistent", "uses entry", "drawn", "triggered kept", "mentions",
             "s/sentence"]
    rows = [[name, str(m["sentences"]), pct(m["consistent"]), pct(m["uses_entry"]), pct(m["drawn"]),
             pct(m["triggered_in_prompt"]), pct(m["mentions"]),
             "n/a" if m["seconds_per_sentence"] is None else f"{m['seconds_per_sentence']:.2f}"]
            for name, m in report["conditions"].items()]
    lines = _table(heads, rows)
    p = report["paired"]
    lines += ["", f"paired sentences: {p['pairs']}; consistent only with the bible {p['only_with_consistent']}, "
              f"only without {p['only_without_consistent']}; uses an entry only with {p['only_with_uses']}, "
              f"only without {p['only_without_uses']}", ""]
    case_heads = ["case", "consistent with", "without", "uses with", "without", "drawn with", "without"]
    case_rows = [[c["case"], *(pct(c[cond][m]) for m in ("consistent", "uses_entry", "drawn") for cond in CONDITIONS)]
                 for c in report["cases"]]
    return "\n".join(lines + _table(case_heads, case_rows))


def _table(heads: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    return ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in [heads, *rows]]


def progress_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

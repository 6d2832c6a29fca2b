"""Study results for admins: rater quality, means, win rates, Bradley-Terry, agreement, exports."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.studies.stats import (
    Comparison,
    alpha,
    bradley_terry_intervals,
    mean_interval,
    normalise_outcome,
    win_rates,
)
from storage import CONTROL_SCORES, RatingRecord, get_study, holdings, study_ratings
from storage.study_progress import regular_hidden

PROVENANCE_FIELDS = ("model", "adapter", "backend", "knowledge_base", "knowledge_edges", "keywords", "source")


@dataclass(frozen=True)
class QualityRules:
    """When a rater is flagged: attention-check accuracy or median seconds per item too low."""

    min_check_accuracy: float = 0.8
    min_seconds_per_item: float = 0.0
    exclude_flagged: bool = False


@dataclass(frozen=True)
class RaterQuality:
    """One rater's attention checks and pace."""

    rater_id: int
    name: str
    items: int
    checks: int
    check_accuracy: float
    median_seconds: float
    flagged: bool
    reasons: str


@dataclass
class StudyResults:
    """Every table of the results tab; `excluded` raters are left out of all but `quality`."""

    study_id: int
    kind: str
    criteria: list[str]
    quality: list[RaterQuality] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)
    systems: list[dict[str, Any]] = field(default_factory=list)  # what wrote each system's stories
    means: list[dict[str, Any]] = field(default_factory=list)
    win_rates: list[dict[str, Any]] = field(default_factory=list)
    bradley_terry: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Table name -> rows, for display and the summary export."""
        return {
            "systems": self.systems,
            "quality": [asdict(q) for q in self.quality],
            "means": self.means,
            "win_rates": self.win_rates,
            "bradley_terry": self.bradley_terry,
            "agreement": self.agreement,
        }


def rater_quality(
    records: Sequence[RatingRecord], rules: QualityRules, names: Mapping[int, str] | None = None
) -> list[RaterQuality]:
    """Attention-check accuracy and median time per item of every rater (`names`: id -> name)."""
    by_rater: dict[int, list[RatingRecord]] = {}
    for r in records:
        by_rater.setdefault(r.rater_id, []).append(r)
    out = []
    for rater_id, rows in sorted(by_rater.items()):
        checks = [r for r in rows if r.is_attention_check]
        accuracy = sum(r.value == r.expected for r in checks) / len(checks) if checks else math.nan
        per_item: dict[int, int] = {}
        for r in rows:
            per_item[r.item_id] = per_item.get(r.item_id, 0) + r.time_spent_ms
        seconds = statistics.median(per_item.values()) / 1000
        reasons = []
        if checks and accuracy < rules.min_check_accuracy:
            reasons.append(f"attention checks {accuracy:.0%} < {rules.min_check_accuracy:.0%}")
        if seconds < rules.min_seconds_per_item:
            reasons.append(f"median {seconds:.1f} s per item < {rules.min_seconds_per_item:g} s")
        out.append(
            RaterQuality(
                rater_id,
                (names or {}).get(rater_id, f"rater {rater_id}"),
                len(per_item),
                len({r.item_id for r in checks}),
                accuracy,
                seconds,
                bool(reasons),
                "; ".join(reasons),
            )
        )
    return out


def summarise(
    *,
    study_id: int,
    kind: str,
    criteria: Sequence[str],
    records: Sequence[RatingRecord],
    rules: QualityRules = QualityRules(),
    n_resamples: int = 1000,
    seed: int = 0,
    names: Mapping[int, str] | None = None,
    items: Sequence[Mapping[str, Any]] = (),
) -> StudyResults:
    """Compute every results table from a study's ratings (pure: no database).

    Args:
        study_id: The study, for the record.
        kind: "likert", "pairwise" or "control".
        criteria: The study's criteria.
        records: `storage.study_ratings` output.
        rules: Flagging thresholds, and whether flagged raters are excluded.
        n_resamples: Bootstrap resamples for every interval.
        seed: Seed of the resampling.
        names: Rater id -> name, for the quality table.
        items: The hidden data of the study's regular items, for the systems' provenance.

    Returns:
        The tables; with `rules.exclude_flagged`, computed without the flagged raters.
    """
    quality = rater_quality(records, rules, names)
    excluded = [q.rater_id for q in quality if q.flagged] if rules.exclude_flagged else []
    kept = [r for r in records if not r.is_attention_check and r.rater_id not in excluded]
    results = StudyResults(study_id, kind, list(criteria), quality, excluded, provenance_table(items))
    for criterion in criteria:
        rows = [r for r in kept if r.criterion == criterion]
        if kind == "pairwise":
            _pairwise_tables(results, criterion, rows, n_resamples, seed)
        else:
            _mean_table(results, kind, criterion, rows, n_resamples, seed)
        results.agreement.append(_agreement(kind, criterion, rows))
    return results


def _mean_table(
    results: StudyResults, kind: str, criterion: str, rows: list[RatingRecord], n: int, seed: int
) -> None:
    """Mean (Likert) or share of "yes" (control) per system, with bootstrap intervals."""
    by_system: dict[str, list[float]] = {}
    for r in rows:
        value = CONTROL_SCORES[r.value] if kind == "control" else float(r.value)
        by_system.setdefault(str(r.hidden.get("system", "?")), []).append(value)
    for system, values in sorted(by_system.items()):
        ci = mean_interval(values, n_resamples=n, seed=seed)
        results.means.append(
            {
                "criterion": criterion,
                "system": system,
                "mean": ci.estimate,
                "low": ci.low,
                "high": ci.high,
                "n": ci.n,
            }
        )


def _pairwise_tables(
    results: StudyResults, criterion: str, rows: list[RatingRecord], n: int, seed: int
) -> None:
    """Win rates and Bradley-Terry scores (ties and both_bad count as half) for one criterion."""
    games = [
        Comparison(r.hidden["systems"]["A"], r.hidden["systems"]["B"], normalise_outcome(r.value))
        for r in rows
    ]
    for w in win_rates(games):
        results.win_rates.append({"criterion": criterion, **asdict(w)})
    if len({c.a for c in games} | {c.b for c in games}) >= 2:
        for s in bradley_terry_intervals(games, n_resamples=n, seed=seed):
            results.bradley_terry.append({"criterion": criterion, **asdict(s)})


def _agreement(kind: str, criterion: str, rows: list[RatingRecord]) -> dict[str, Any]:
    """Krippendorff's alpha: ordinal for Likert, nominal for choices."""
    raters = sorted({r.rater_id for r in rows})
    items = sorted({r.item_id for r in rows})
    cell = {(r.rater_id, r.item_id): r.value for r in rows}
    table = [[cell.get((rater, item)) for item in items] for rater in raters]
    level = "ordinal" if kind == "likert" else "nominal"
    domain = [1, 2, 3, 4, 5] if kind == "likert" else None
    value = alpha(table, level=level, domain=domain) if table else math.nan
    return {
        "criterion": criterion,
        "alpha": value,
        "level": level,
        "raters": len(raters),
        "items": len(items),
        "note": _alpha_note(value, table, items),
    }


def _alpha_note(value: float, table: list[list[Any]], items: list[int]) -> str:
    """Why alpha is missing, if it is."""
    if not math.isnan(value):
        return ""
    most = max((sum(row[n] is not None for row in table) for n in range(len(items))), default=0)
    if most < 2:
        return "too few raters per item: alpha needs an item answered by 2 raters"
    return "every answer is the same: alpha needs some variation between answers"


def provenance_table(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What wrote each system's stories, from the items' hidden data; differing values are joined by " | "."""
    seen: dict[str, dict[str, Any]] = {}
    for hidden in items:
        made = hidden.get("provenance") or {}
        sides = (
            [(hidden["systems"][side], made.get(side) or {}) for side in ("A", "B")]
            if "systems" in hidden else [(str(hidden.get("system", "?")), made)]
        )
        for system, record in sides:
            row = seen.setdefault(system, {"items": 0, "facts": [], **{f: {} for f in PROVENANCE_FIELDS}})
            row["items"] += 1
            row["facts"].append(int(record.get("facts_used", 0) or 0))
            for name in PROVENANCE_FIELDS:
                if name in record:
                    row[name][str(record[name])] = None
    table = []
    for system, row in sorted(seen.items()):
        values = {f: " | ".join(row[f]) for f in PROVENANCE_FIELDS if row[f]}
        table.append({"system": system, "items": row["items"], **{f: values.get(f, "not recorded")
                      for f in PROVENANCE_FIELDS if f != "source" or f in values},
                      "facts_per_story": round(statistics.mean(row["facts"]), 1)})
    return table


def study_results(
    session: Session,
    *,
    study_id: int,
    rules: QualityRules = QualityRules(),
    n_resamples: int = 1000,
    seed: int = 0,
) -> StudyResults:
    """Results of a stored study (admins only: the caller checks the role)."""
    study = get_study(session, study_id)
    records = study_ratings(session, study_id=study.id)
    names = {h.rater_id: h.rater_name for h in holdings(session, study_id=study.id)}
    return summarise(
        study_id=study.id,
        kind=study.kind,
        criteria=list(study.criteria),
        records=records,
        rules=rules,
        n_resamples=n_resamples,
        seed=seed,
        names=names,
        items=regular_hidden(session, study_id=study.id),
    )


def write_exports(
    folder: str | Path, *, study_id: int, results: StudyResults, records: Sequence[RatingRecord]
) -> list[Path]:
    """Write the summary and the raw ratings as CSV and JSONL into `folder` (made if needed).

    The one writer of result exports: the `results` command and the admin page's Results tab.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary, raw = summary_rows(results), raw_rows(records)
    texts = {"summary.csv": to_csv(summary), "summary.jsonl": to_jsonl(summary),
             "ratings.csv": to_csv(raw), "ratings.jsonl": to_jsonl(raw)}
    paths = []
    for name, text in texts.items():
        path = folder / f"study-{study_id}-{name}"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def raw_rows(records: Sequence[RatingRecord]) -> list[dict[str, Any]]:
    """One flat row per current rating, with the hidden systems, for export."""
    rows = []
    for r in records:
        row = asdict(r)
        hidden = row.pop("hidden")
        row["system"] = hidden.get("system", "")
        row["system_a"] = hidden.get("systems", {}).get("A", "")
        row["system_b"] = hidden.get("systems", {}).get("B", "")
        row["updated_at"] = r.updated_at.isoformat()
        rows.append(row)
    return rows


def summary_rows(results: StudyResults) -> list[dict[str, Any]]:
    """Every results table as rows tagged with their table name."""
    return [{"table": name, **row} for name, rows in results.tables().items() for row in rows]


def to_jsonl(rows: Sequence[dict[str, Any]]) -> str:
    """JSON Lines; NaN becomes null."""
    clean = [{k: _finite(v) for k, v in row.items()} for row in rows]
    return "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in clean)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV with the union of the rows' keys as columns; lists and dicts as JSON."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, list | dict) else _finite(v) for k, v in row.items()}
        )
    return buffer.getvalue()


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value

"""Results as a person reads them: the tables that apply to the study's kind, rounded, labelled.

The exports keep every number at full precision (`results.summary_rows`); the page and the
terminal show these: intervals and alpha to 2 decimals, rates as percentages with their counts,
raters by name, a Bradley-Terry score stopped at the optimiser's bound shown as a bound, and
a missing alpha with its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.studies.results import StudyResults

NOT_ESTIMABLE = "not estimable with these answers"


@dataclass(frozen=True)
class Table:
    """One results table for display."""

    name: str  # key in `StudyResults.tables()`
    title: str
    rows: list[dict[str, str]]


def titles(kind: str) -> dict[str, str]:
    """Table name -> title, for the tables that apply to a study of `kind`, in display order."""
    out = {"systems": "Systems: what wrote each system's stories", "quality": "Raters: attention checks and pace"}
    if kind == "pairwise":
        out["win_rates"] = "Win rates (a tie or both bad counts as half a win)"
        out["bradley_terry"] = "Bradley-Terry scores with 95% intervals"
    else:
        out["means"] = ("Share of yes with 95% intervals" if kind == "control" else "Means with 95% intervals")
    out["agreement"] = "Agreement: Krippendorff's alpha"
    return out


def report_tables(results: StudyResults) -> list[Table]:
    """The display tables of a study's results, only those that apply to its kind."""
    raw = results.tables()
    format_row = {"systems": _system_row, "quality": lambda r: _quality_row(r, results.excluded),
                  "means": lambda r: _mean_row(r, results.kind), "win_rates": _win_row,
                  "bradley_terry": _bt_row, "agreement": _agreement_row}
    return [Table(name, title, [format_row[name](row) for row in raw[name]]) for name, title in titles(results.kind).items()]


def format_report(results: StudyResults) -> str:
    """Every display table as aligned plain text, for the terminal."""
    blocks = [f"study {results.study_id} ({results.kind}); "
              + (f"excluded raters: {', '.join(_excluded_names(results))}" if results.excluded else "no rater excluded")]
    for table in report_tables(results):
        blocks.append(f"## {table.title}\n" + (_aligned(table.rows) if table.rows else "(no answers yet)"))
    return "\n\n".join(blocks)


def _excluded_names(results: StudyResults) -> list[str]:
    return [q.name for q in results.quality if q.rater_id in results.excluded]


def _aligned(rows: list[dict[str, str]]) -> str:
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _label(name: str) -> str:
    """A stored name as words: "follows_keywords" -> "follows keywords"."""
    return str(name).replace("_", " ")


def _number(value: Any, digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _share(part: float, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def _system_row(row: dict[str, Any]) -> dict[str, str]:
    edges = row.get("knowledge_edges", "")
    shown = {"System": row["system"], "Items": str(row["items"]), "Model": row.get("model", ""),
             "Adapter": row.get("adapter", ""), "Backend": row.get("backend", ""),
             "Knowledge base": row.get("knowledge_base", ""),
             "Edges": ", ".join(f"{int(e):,}" if e.isdigit() else e for e in str(edges).split(" | ")),
             "Facts per story": f"{row.get('facts_per_story', 0):.1f}", "Keywords": row.get("keywords", "")}
    if "source" in row:
        shown["Source"] = row["source"]
    return shown


def _quality_row(row: dict[str, Any], excluded: list[int]) -> dict[str, str]:
    checks = row["checks"]
    right = round(row["check_accuracy"] * checks) if checks else 0
    return {
        "Rater": row["name"],
        "Items": str(row["items"]),
        "Attention checks": f"{right} of {checks} right ({_share(right, checks)})" if checks else "none",
        "Median seconds per item": _number(row["median_seconds"], 1),
        "Flagged": row["reasons"] or "no",
        "Excluded": "yes" if row["rater_id"] in excluded else "no",
    }


def _mean_row(row: dict[str, Any], kind: str) -> dict[str, str]:
    n = row["n"]
    if kind == "control":
        yes = round(row["mean"] * n)
        estimate = f"{_share(yes, n)} ({yes} of {n})"
        interval = "—" if math.isnan(row["low"]) else f"[{row['low']:.0%}, {row['high']:.0%}]"
    else:
        estimate, interval = _number(row["mean"]), _interval(row["low"], row["high"])
    return {"Criterion": _label(row["criterion"]), "System": row["system"],
            "Share of yes" if kind == "control" else "Mean": estimate, "95% interval": interval, "Answers": str(n)}


def _interval(low: float, high: float, low_bound: str = "", high_bound: str = "") -> str:
    """"[0.13, 0.87]"; an end at the optimiser's bound as a bound ("[0.13, > 4.9]")."""
    if math.isnan(low) or math.isnan(high):
        return "— (fewer than 2 answers)"
    if low_bound and low_bound == high_bound:
        return f"{_beyond(high, high_bound)} in nearly every resample: {NOT_ESTIMABLE}"
    left = _beyond(low, low_bound) if low_bound else f"{low:.2f}"
    right = _beyond(high, high_bound) if high_bound else f"{high:.2f}"
    return f"[{left}, {right}]"


def _beyond(value: float, side: str) -> str:
    """A value at the optimiser's bound as the bound it is: 5.0 above -> "> 4.9"."""
    tenths = round(value, 6) * 10
    return f"> {math.floor(tenths - 1) / 10:.1f}" if side == "above" else f"< {math.ceil(tenths + 1) / 10:.1f}"


def _win_row(row: dict[str, Any]) -> dict[str, str]:
    n = row["wins"] + row["losses"] + row["ties"]
    return {"Criterion": _label(row["criterion"]), "System": row["system"], "Opponent": row["opponent"],
            "Win rate": f"{row['rate']:.0%} ({row['wins']} won, {row['losses']} lost, {row['ties']} tied of {n})"}


def _bt_row(row: dict[str, Any]) -> dict[str, str]:
    score = f"{_beyond(row['score'], row['bound'])}, {NOT_ESTIMABLE}" if row.get("bound") else f"{row['score']:.2f}"
    return {"Criterion": _label(row["criterion"]), "System": row["system"], "Score": score,
            "95% interval": _interval(row["low"], row["high"], row.get("low_bound", ""), row.get("high_bound", ""))}


def _agreement_row(row: dict[str, Any]) -> dict[str, str]:
    value = row["alpha"]
    shown = f"— ({row['note']})" if value is None or math.isnan(value) else f"{value:.2f}"
    return {"Criterion": _label(row["criterion"]), "Alpha": shown, "Level": row["level"],
            "Raters": str(row["raters"]), "Items": str(row["items"])}

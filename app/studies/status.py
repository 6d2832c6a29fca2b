"""How a study is running: open items, each rater's progress and pace, flags, agreement so far.

One function reads it all in one transaction (`study_status`); `format_status` prints it
for `python -m app studies status` and the admin page shows the same rows.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.studies.results import QualityRules, summarise
from storage import get_study, holdings, open_invites, regular_items, study_ratings


@dataclass(frozen=True)
class RaterProgress:
    """One rater in one study."""

    rater_id: int
    name: str
    assigned: int  # items held now (released ones not counted)
    done: int
    released: int  # items taken back after the lease ran out
    median_seconds: float | None
    check_accuracy: float | None
    flagged: str  # why the rater is flagged ("" when not)


@dataclass
class StudyStatus:
    """A study's state for its admin."""

    study_id: int
    name: str
    kind: str
    closed: bool
    overlap_k: int
    items: int
    complete: int  # regular items with k answers
    open_invites: int
    under_k: list[dict[str, Any]] = field(default_factory=list)  # items with fewer than k answers
    raters: list[RaterProgress] = field(default_factory=list)
    agreement: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        return {"under_k": self.under_k, "raters": [asdict(r) for r in self.raters],
                "agreement": self.agreement}


def study_status(
    session: Session, *, study_id: int, rules: QualityRules | None = None, n_resamples: int = 200
) -> StudyStatus:
    """Read a study's progress (the caller checks that the reader is an admin)."""
    study = get_study(session, study_id)
    regular = regular_items(session, study_id=study.id)
    answers: dict[int, int] = {}
    holders: dict[int, int] = {}
    per_rater: dict[int, dict[str, Any]] = {}
    for a in holdings(session, study_id=study.id):
        mine = per_rater.setdefault(a.rater_id, {"name": a.rater_name, "assigned": 0, "done": 0, "released": 0, "ms": []})
        if a.released:
            mine["released"] += 1
            continue
        mine["assigned"] += 1
        if a.completed:
            mine["done"] += 1
            mine["ms"].append(a.time_spent_ms)
        if not a.is_attention_check:
            holders[a.item_id] = holders.get(a.item_id, 0) + 1
            answers[a.item_id] = answers.get(a.item_id, 0) + a.completed
    records = study_ratings(session, study_id=study.id)
    summary = summarise(study_id=study.id, kind=study.kind, criteria=list(study.criteria), records=records,
                        rules=rules or QualityRules(), n_resamples=n_resamples)
    quality = {q.rater_id: q for q in summary.quality}
    raters = []
    for rater_id, mine in sorted(per_rater.items()):
        q = quality.get(rater_id)
        accuracy = None if q is None or q.checks == 0 else q.check_accuracy
        raters.append(RaterProgress(
            rater_id, mine["name"], mine["assigned"], mine["done"], mine["released"],
            statistics.median(mine["ms"]) / 1000 if mine["ms"] else None, accuracy, q.reasons if q else "",
        ))
    under_k = [
        {"item": ordinal, "answers": answers.get(item_id, 0), "holders": holders.get(item_id, 0)}
        for item_id, ordinal in regular if answers.get(item_id, 0) < study.overlap_k
    ]
    return StudyStatus(
        study.id, study.name, study.kind, study.closed_at is not None, study.overlap_k, len(regular),
        len(regular) - len(under_k), open_invites(session, study_id=study.id), under_k, raters,
        summary.agreement,
    )


def format_status(status: StudyStatus) -> str:
    """Plain text for the terminal."""
    state = "closed" if status.closed else "open"
    lines = [
        f"study {status.study_id} {status.name!r} ({status.kind}, k={status.overlap_k}, {state})",
        f"items: {status.complete} of {status.items} have {status.overlap_k} answers; "
        f"{len(status.under_k)} have fewer; {status.open_invites} unused invites",
        "",
        f"{'rater':<20} {'done':>9} {'released':>8} {'median s':>8} {'checks':>7}  flagged",
    ]
    for r in status.raters:
        seconds = "-" if r.median_seconds is None else f"{r.median_seconds:.1f}"
        checks = "-" if r.check_accuracy is None else f"{r.check_accuracy:.0%}"
        lines.append(f"{r.name:<20} {f'{r.done}/{r.assigned}':>9} {r.released:>8} {seconds:>8} {checks:>7}  "
                     f"{r.flagged or 'no'}")
    if not status.raters:
        lines.append("(no raters yet)")
    lines.append("")
    for a in status.agreement:
        value = a.get("alpha")
        shown = "-" if value is None or value != value else f"{value:.3f}"
        lines.append(f"agreement ({a.get('criterion')}): Krippendorff's alpha {shown} "
                     f"over {a.get('items', 0)} items, {a.get('raters', 0)} raters")
    if status.under_k:
        listed = ", ".join(f"#{u['item']} ({u['answers']}/{status.overlap_k})" for u in status.under_k[:20])
        more = f" and {len(status.under_k) - 20} more" if len(status.under_k) > 20 else ""
        lines.append(f"waiting for answers: {listed}{more}")
    return "\n".join(lines)


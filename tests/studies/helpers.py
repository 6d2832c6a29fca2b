"""Shared builders for evaluation tests: fake written stories and a ready study."""

from __future__ import annotations

from app.studies.studies import StudySpec, attention_checks, create_study_with_items
from app.studies.systems import WrittenStory
from storage import assign_raters


def stories(systems=("full", "plain"), premises=3) -> list[WrittenStory]:
    """One short story per premise and system; the text never names the system."""
    return [
        WrittenStory(
            premise=f"Premise number {p}.",
            sentences=[f"Sentence one of story {p}-{n}.", "It ended well."],
            keywords=[["tire", "flat"], ["home"]],
            system=system,
            model=f"model-{system}",
        )
        for p in range(premises)
        for n, system in enumerate(systems)
    ]


def make_study(
    factory, people, *, kind="likert", k=2, rate=0.0, n_premises=3, raters=("r1", "r2", "r3")
):
    """A committed study, assigned to `raters`; returns its id."""
    spec = StudySpec(name=f"{kind} study", kind=kind, overlap_k=k, attention_rate=rate, seed=1)
    with factory.begin() as session:
        study = create_study_with_items(
            session, spec=spec, stories=stories(premises=n_premises), owner_id=people["ada"]
        )
        assign_raters(session, study_id=study.id, rater_ids=[people[r] for r in raters],
                      make_checks=attention_checks, seed=2)
        return study.id

"""Making studies: items from stories (saved, generated or writers' preference pairs) and attention checks.

Items carry what raters see in `payload` and, apart, what they must never see in
`hidden` (system, model, sides). Attention checks with known answers are added so
that each rater's share of them matches the study's `attention_rate`; assignment, with its
top-up of those checks, is storage's (`storage.assign_raters`, `storage.assign_share`).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.studies.systems import WrittenStory
from storage import (
    InvalidInput,
    ItemInput,
    Study,
    add_items,
    load_story,
)
from storage import create_study as storage_create_study

DEFAULT_CRITERIA = {
    "likert": ["fluency", "coherence", "consistency", "relevance"],
    "pairwise": ["coherence"],
    "control": ["follows_keywords"],
}
DEFAULT_INSTRUCTIONS = {
    "likert": "Read each story and rate it from 1 (poor) to 5 (excellent) on every question.",
    "pairwise": "Read both stories written from the same opening. Choose the better one "
    "(A or B), say they are equally good (tie), or that both are bad.",
    "control": "Read the story and its target keywords. Does the story follow them?",
}
PAIR_NOTE = "preference pair "  # marks the two stories of one preference pair, compared only with each other
CHOSEN, REJECTED = "writer-chosen", "writer-rejected"


@dataclass(frozen=True)
class StudySpec:
    """What to create: a study's kind, criteria, overlap and attention-check rate."""

    name: str
    kind: str
    criteria: list[str] = field(default_factory=list)
    overlap_k: int = 3
    attention_rate: float = 0.1
    instructions: str = ""
    seed: int = 0

    def resolved_criteria(self) -> list[str]:
        return list(self.criteria) or list(DEFAULT_CRITERIA.get(self.kind, []))


def read_premises(path: str | Path, *, limit: int, offset: int = 0) -> list[str]:
    """First sentences of a ROCStories / Story Cloze CSV, or lines of a text file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no premise file at {path}")
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        column = next((c for c in ("InputSentence1", "sentence1") if rows and c in rows[0]), None)
        if column is None:
            raise InvalidInput(f"{path} has no InputSentence1 or sentence1 column")
        premises = [row[column].strip() for row in rows]
    else:
        premises = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    chosen = [p for p in premises if p][offset : offset + limit]
    if not chosen:
        raise InvalidInput(f"no premises read from {path}")
    return chosen


def story_items(
    kind: str, stories: Sequence[WrittenStory], *, rng: random.Random
) -> list[ItemInput]:
    """Regular items: one per story (Likert, control) or per pair from one premise (pairwise)."""
    if kind != "pairwise":
        return [
            ItemInput(payload=_shown(kind, s), hidden=_hidden(s, index=n))
            for n, s in enumerate(stories)
        ]
    groups: dict[tuple[str, str], list[WrittenStory]] = {}
    for story in stories:
        groups.setdefault((story.premise, _pair_label(story)), []).append(story)
    items = []
    for n, ((premise, _), group) in enumerate(groups.items()):
        for left, right in combinations(group, 2):
            if rng.random() < 0.5:  # sides are randomised per item
                left, right = right, left
            hidden: dict[str, Any] = {
                "systems": {"A": left.system, "B": right.system},
                "models": {"A": left.model, "B": right.model},
                "provenance": {"A": dict(left.provenance), "B": dict(right.provenance)},
                "premise_index": n,
            }
            if left.notes or right.notes:
                hidden["notes"] = {"A": list(left.notes), "B": list(right.notes)}
            items.append(
                ItemInput(
                    payload={"premise": premise, "story_a": _text(left), "story_b": _text(right)},
                    hidden=hidden,
                )
            )
    return items


def _pair_label(story: WrittenStory) -> str:
    """The preference pair a story belongs to, if any: pairs sharing a context stay apart."""
    return next((note for note in story.notes if note.startswith(PAIR_NOTE)), "")


def _text(story: WrittenStory) -> str:
    return " ".join(s.strip() for s in story.sentences if s.strip())


def _shown(kind: str, story: WrittenStory) -> dict[str, Any]:
    """What raters see of one story: never the system or model."""
    shown: dict[str, Any] = {"premise": story.premise, "story": _text(story)}
    if kind == "control":
        shown["keywords"] = sorted({k for sentence in story.keywords for k in sentence})
    return shown


def _hidden(story: WrittenStory, *, index: int) -> dict[str, Any]:
    return {
        "system": story.system,
        "model": story.model,
        "story_index": index,
        "notes": list(story.notes),
        "provenance": dict(story.provenance),
    }


def attention_items(
    kind: str, criteria: Sequence[str], *, count: int, rng: random.Random
) -> list[ItemInput]:
    """Items whose text tells the rater what to answer: the known answer is unambiguous."""
    items = []
    for _ in range(count):
        if kind == "likert":
            answer: Any = rng.randint(1, 5)
            payload = {
                "premise": "Please read carefully.",
                "story": f"This is an attention check. Please rate it {answer} on every question.",
            }
        elif kind == "pairwise":
            answer = rng.choice(["A", "B"])
            payload = {
                "premise": "Please read carefully.",
                "story_a": f"This is an attention check. Please choose {answer} on every question.",
                "story_b": "Read the other story for the instruction.",
            }
        else:
            answer = rng.choice(["yes", "no"])
            payload = {
                "premise": "Please read carefully.",
                "keywords": ["attention"],
                "story": f"This is an attention check. Please answer {answer} on every question.",
            }
        items.append(
            ItemInput(
                payload=payload,
                hidden={"attention_check": True},
                attention_check=True,
                expected={c: answer for c in criteria},
            )
        )
    return items


def create_study_with_items(
    session: Session,
    *,
    spec: StudySpec,
    stories: Sequence[WrittenStory],
    owner_id: int | None = None,
    settings: dict[str, Any] | None = None,
) -> Study:
    """Create a study and its regular items in the caller's transaction.

    Args:
        session: Open session; the caller commits (nothing is written if this raises).
        spec: Kind, criteria, overlap and attention-check rate.
        stories: Written stories (generated or saved), with their systems.
        owner_id: The admin who made it.
        settings: Extra JSON-able settings to keep with the study.

    Returns:
        The study; attention checks are added by `storage.assign_raters`, once the load per
        rater is known.
    """
    items = story_items(spec.kind, stories, rng=random.Random(spec.seed))
    if not items:
        raise InvalidInput(
            "a study needs at least one item (for pairwise: two systems per premise)"
        )
    study = storage_create_study(
        session,
        name=spec.name,
        kind=spec.kind,
        criteria=spec.resolved_criteria(),
        overlap_k=spec.overlap_k,
        owner_id=owner_id,
        attention_rate=spec.attention_rate,
        instructions=spec.instructions or DEFAULT_INSTRUCTIONS.get(spec.kind, ""),
        settings={
            "systems": sorted({s.system for s in stories}),
            "seed": spec.seed,
            **(settings or {}),
        },
    )
    add_items(session, study_id=study.id, items=items)
    return study


def stories_from_saved(
    session: Session, *, user_id: int, story_ids: Sequence[int]
) -> list[WrittenStory]:
    """Saved stories as study material; the system is the story's `system` setting or its model."""
    out = []
    for story_id in story_ids:
        view = load_story(session, user_id=user_id, story_id=story_id)
        models = [n.provenance.model for n in view.nodes if n.provenance.model]
        system = str(
            view.settings.get("system")
            or (max(set(models), key=models.count) if models else "writer")
        )
        sentences = [n.text for n in view.nodes]
        if view.premise and sentences and sentences[0].strip() == view.premise.strip():
            sentences = sentences[1:]
        out.append(
            WrittenStory(
                premise=view.premise or view.title,
                sentences=sentences,
                keywords=[list(n.provenance.keywords) for n in view.nodes],
                system=system,
                model=models[0] if models else "",
                notes=[f"story {story_id}"],
                provenance={"model": ", ".join(sorted(set(models))) or "unknown", "source": f"saved story {story_id}"},
            )
        )
    return out


def stories_from_pairs(pairs: Iterable[dict[str, Any]], *, limit: int) -> list[WrittenStory]:
    """Writers' preference pairs (`storage.preference_pairs`) as pairwise material, two stories per pair.

    Each pair gives the story before the sentence as the premise, and the version the writer
    rated up (system "writer-chosen") and the one rated down ("writer-rejected") as one-sentence
    stories. A pair seen before (the same context and texts, e.g. rated again in a fork) and a
    pair whose two texts read the same are skipped.

    Args:
        pairs: Dicts with `prompt`, `chosen`, `rejected` and `meta`.
        limit: The most pairs to take, in the order given.

    Returns:
        The stories, the chosen one of each pair first.

    Raises:
        InvalidInput: No pair to compare.
    """
    if limit < 1:
        raise InvalidInput(f"the limit of preference pairs must be at least 1, not {limit}")
    out: list[WrittenStory] = []
    seen: set[tuple[str, str, str]] = set()
    for pair in pairs:
        key = (pair["prompt"].strip(), " ".join(pair["chosen"].split()), " ".join(pair["rejected"].split()))
        if key in seen or key[1] == key[2]:
            continue
        if len(seen) >= limit:
            break
        seen.add(key)
        meta = pair["meta"]
        for system, side in ((CHOSEN, "chosen"), (REJECTED, "rejected")):
            record = meta[side]
            out.append(WrittenStory(
                premise=key[0],
                sentences=[pair[side].strip()],
                keywords=[list(record.get("keywords") or [])],
                system=system,
                model=str(record.get("model") or ""),
                notes=[f"{PAIR_NOTE}{len(seen)}", f"story {meta['story']}, sentence {meta['sentence']}, "
                       f"version {record['node']}", f"writer {meta['writer']}"],
                provenance={"model": str(record.get("model") or "unknown"), "source": f"writer's {side} version"},
            ))
    if not out:
        raise InvalidInput("no preference pairs to compare yet: a pair is two versions of one sentence, one "
                           "rated up and the other down by its writer")
    return out


def attention_checks(study: Study, count: int, rng: random.Random) -> list[ItemInput]:
    """`count` attention checks for `study` (storage's `CheckMaker`: assignment tops them up)."""
    return attention_items(study.kind, study.criteria, count=count, rng=rng)

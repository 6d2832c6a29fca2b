"""Making studies: items from stories (saved, generated or writers' preference pairs), attention checks, assignment.

Items carry what raters see in `payload` and, apart, what they must never see in
`hidden` (system, model, sides). Attention checks with known answers are added so
that each rater's share of them matches the study's `attention_rate`.
"""

from __future__ import annotations

import csv
import math
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
    assign_items,
    checks_given,
    get_study,
    give_share,
    item_counts,
    load_story,
    open_invites,
    pool,
    release_overdue,
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
        The study; attention checks are added by `assign_raters`, once the load per
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


def checks_needed(*, rate: float, load: int) -> int:
    """Attention checks per rater so that checks / (checks + load) is closest to `rate`."""
    return 0 if rate <= 0 or load <= 0 else round(rate * load / (1 - rate))


def assign_raters(
    session: Session, *, study_id: int, rater_ids: Sequence[int], seed: int | None = None
) -> int:
    """Top up attention checks for the per-rater load, then give items to raters (k-overlap).

    Args:
        session: Open session; the caller commits.
        study_id: The study.
        rater_ids: Raters; at least the study's overlap k of them.
        seed: Seed of the assignment and of the check answers.

    Returns:
        How many assignments were added.
    """
    study = get_study(session, study_id)
    raters = sorted(set(rater_ids))
    if len(raters) < study.overlap_k:
        raise InvalidInput(
            f"overlap k={study.overlap_k} needs at least {study.overlap_k} raters, "
            f"got {len(raters)}"
        )
    counts = item_counts(session, study_id=study.id)
    regular, checks = counts.regular, counts.checks
    if regular == 0:
        raise InvalidInput(f"study {study.id} has no items to assign")
    load = math.ceil(regular * study.overlap_k / len(raters))
    missing = checks_needed(rate=study.attention_rate, load=load) - checks
    if missing > 0:
        rng = random.Random(seed)
        add_items(
            session,
            study_id=study.id,
            items=attention_items(study.kind, study.criteria, count=missing, rng=rng),
        )
    return assign_items(session, study_id=study.id, rater_ids=raters, seed=seed)


def assign_share(
    session: Session, *, study_id: int, rater_id: int, seed: int | None = None
) -> int:
    """Give an arriving rater a fair share of the open work, with attention checks at the study's rate.

    Items held past the study's lease are released first. The open rater slots are split
    over this rater and the invites still out, so the last invitee still finds work; a
    study setting `items_per_rater` caps the share.

    Returns:
        How many assignments were added.

    Raises:
        StudyFull: Every item already has its k raters.
    """
    study = get_study(session, study_id)
    release_overdue(session, study_id=study.id)
    waiting = pool(session, study_id=study.id)
    share = math.ceil(waiting.open_slots / (open_invites(session, study_id=study.id) + 1))
    if cap := (study.settings or {}).get("items_per_rater"):
        share = min(share, int(cap))
    wanted = checks_needed(rate=study.attention_rate, load=max(share, 1))
    seen = checks_given(session, study_id=study.id, rater_id=rater_id)
    checks = item_counts(session, study_id=study.id).checks
    if (missing := wanted + seen - checks) > 0:
        add_items(
            session,
            study_id=study.id,
            items=attention_items(study.kind, study.criteria, count=missing, rng=random.Random(seed)),
        )
    return give_share(
        session, study_id=study.id, rater_id=rater_id, regular=share, checks=wanted, seed=seed
    )

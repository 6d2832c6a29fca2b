"""Storyline overlap: how well a plan of keywords matches the gold storyline of a story.

Plan-and-Write annotates each sentence of a test story with one storyline keyword. A predicted
storyline (slot i: the keywords planned for sentence i) is compared with the gold one two ways:

- per slot: the share of slots whose keywords include the gold keyword of the same sentence;
- as a set: the share of gold keywords that appear in any slot (order ignored).

A keyword matches its regular inflections ("died" matches "die", `engine.inflect.mentions`).
The dynamic predictor's keywords (one prediction per sentence as it writes) and RAKE on the
premise are measured the same way, so planning first and planning as you go compare directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.inflect import mentions

Slots = Sequence[Sequence[str]]


def slot_hits(predicted: Slots, gold: Sequence[str]) -> list[bool]:
    """For each gold keyword: does the same sentence's slot mention it (a missing slot: no)."""
    return [i < len(predicted) and mentions(" ".join(predicted[i]), g) for i, g in enumerate(gold)]


def set_hits(predicted: Slots, gold: Sequence[str]) -> list[bool]:
    """For each gold keyword: does any slot mention it."""
    every = " ".join(k for slot in predicted for k in slot)
    return [mentions(every, g) for g in gold]


@dataclass(frozen=True)
class StorylineOverlap:
    """Overlap pooled over stories: per slot, as a set, and keywords per slot (a plan's size)."""

    slot: float
    set: float
    keywords_per_slot: float
    stories: int

    def to_dict(self) -> dict:
        return {"slot": self.slot, "set": self.set, "keywords_per_slot": self.keywords_per_slot,
                "stories": self.stories}


def storyline_overlap(predicted: Sequence[Slots], gold: Sequence[Sequence[str]]) -> StorylineOverlap | None:
    """Overlap of each predicted storyline with its gold one, pooled over gold keywords; None without stories."""
    pairs = list(zip(predicted, gold, strict=True))
    if not pairs:
        return None
    slot = [h for p, g in pairs for h in slot_hits(p, g)]
    anywhere = [h for p, g in pairs for h in set_hits(p, g)]
    sizes = [len(s) for p, _ in pairs for s in p]
    return StorylineOverlap(sum(slot) / max(1, len(slot)), sum(anywhere) / max(1, len(anywhere)),
                            sum(sizes) / max(1, len(sizes)), len(pairs))

"""Pairs for the coherence reranker: (story so far, sentence, is it the real next one?).

For sentence i (2..5) of a training story the real sentence is a positive; each positive
gets one negative of a drawn kind:

- `other_story`: sentence i of another story that shares a storyline keyword (else any story),
- `out_of_order`: a later sentence of the same story (or, for the last one, an earlier one),
- `repeated`: the sentence before, again,
- `name_swap`: the real sentence with a character's name replaced by another story's name,
- `generated`: a sentence the generator wrote for this story (when samples are given).

Story Cloze stories add (four sentences, right ending) against (four sentences, wrong
ending): `cloze_wrong`. The held-out Story Cloze slice is only ever used for accuracy.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from engine.names import names_in
from engine.training.text import Story

NEGATIVE_KINDS = ("other_story", "out_of_order", "repeated", "name_swap")
KIND_WEIGHTS = (0.35, 0.3, 0.1, 0.25)


@dataclass(frozen=True)
class CoherencePair:
    """One scored continuation: the story before it, the sentence, and the label (1 real, 0 not)."""

    premise: str
    sentences: tuple[str, ...]
    candidate: str
    label: int
    kind: str  # "real" or a negative kind


@dataclass(frozen=True)
class ClozeCase:
    """A Story Cloze story: four sentences, the right ending and the wrong one."""

    sentences: tuple[str, ...]
    right: str
    wrong: str


def _keyword_index(stories: list[Story]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for number, story in enumerate(stories):
        for group in story.phrases or ((k,) for k in story.keywords):
            for phrase in group:
                index[phrase.lower()].append(number)
    return index


def swap_name(sentence: str, story: Story, names_pool: list[str], rng: random.Random) -> str | None:
    """The sentence with one of the story's names replaced by another story's name, or None."""
    story_names = set().union(*(names_in(s) for s in story.sentences))
    found = [n for n in names_in(sentence, story_names) if re.search(rf"\b{re.escape(n.capitalize())}\b", sentence)]
    if not found or not names_pool:
        return None
    old = rng.choice(sorted(found))
    choices = [n for n in names_pool if n.lower() not in story_names]
    if not choices:
        return None
    return re.sub(rf"\b{re.escape(old.capitalize())}\b", rng.choice(choices), sentence)


def story_pairs(stories: list[Story], *, seed: int = 0, samples: dict[tuple[int, int], str] | None = None) -> list[CoherencePair]:
    """A positive and one drawn negative for sentences 2..5 of every story.

    Args:
        stories: training stories (never test stories, never the held-out Story Cloze slice).
        seed: draws of negative kinds and partners.
        samples: generator sentences by (story number, sentence index), used as `generated`
            negatives in place of a drawn kind where present.
    """
    rng = random.Random(seed)
    index = _keyword_index(stories)
    names_pool = sorted({n.capitalize() for s in stories[:2000] for n in names_in(s.sentences[0])})
    pairs: list[CoherencePair] = []
    for number, story in enumerate(stories):
        for i in range(1, len(story.sentences)):
            premise, before, real = story.sentences[0], tuple(story.sentences[1:i]), story.sentences[i]
            pairs.append(CoherencePair(premise, before, real, 1, "real"))
            negative = (samples or {}).get((number, i))
            kind = "generated"
            if negative is None:
                kind = rng.choices(NEGATIVE_KINDS, KIND_WEIGHTS)[0]
                negative = _negative(kind, stories, number, i, index, names_pool, rng)
                if negative is None:
                    kind, negative = "other_story", _other_story(stories, number, i, index, rng)
            pairs.append(CoherencePair(premise, before, negative, 0, kind))
    return pairs


def _negative(kind, stories, number, i, index, names_pool, rng) -> str | None:
    story = stories[number]
    if kind == "other_story":
        return _other_story(stories, number, i, index, rng)
    if kind == "out_of_order":
        later = list(range(i + 1, len(story.sentences))) or list(range(1, i - 1))
        return story.sentences[rng.choice(later)] if later else None
    if kind == "repeated":
        return story.sentences[i - 1]
    return swap_name(story.sentences[i], story, names_pool, rng)


def _other_story(stories, number, i, index, rng) -> str:
    story = stories[number]
    group = story.phrases[i] if story.phrases and i < len(story.phrases) else (story.keywords[i:i + 1] if story.keywords else ())
    partners = [n for p in group for n in index.get(p.lower(), []) if n != number]
    partner = stories[rng.choice(partners)] if partners else stories[(number + 1 + rng.randrange(len(stories) - 1)) % len(stories)]
    return partner.sentences[min(i, len(partner.sentences) - 1)]


def cloze_pairs(cases: list[ClozeCase]) -> list[CoherencePair]:
    """(four sentences, right ending) = 1 and (four sentences, wrong ending) = 0."""
    out = []
    for case in cases:
        premise, before = case.sentences[0], tuple(case.sentences[1:])
        out.append(CoherencePair(premise, before, case.right, 1, "real"))
        out.append(CoherencePair(premise, before, case.wrong, 0, "cloze_wrong"))
    return out


def read_cloze_cases(*, held_out: bool) -> list[ClozeCase]:
    """Story Cloze val with both endings: the training part, or the held-out slice."""
    import csv

    from engine.paths import shared_file
    from engine.training.text import CLOZE_HELD_OUT, CLOZE_VAL

    with shared_file(*CLOZE_VAL).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cases = []
    for row in rows:
        endings = (row["RandomFifthSentenceQuiz1"].strip(), row["RandomFifthSentenceQuiz2"].strip())
        right = int(row["AnswerRightEnding"]) - 1
        cases.append(ClozeCase(tuple(row[f"InputSentence{i}"].strip() for i in range(1, 5)), endings[right], endings[1 - right]))
    return cases[-CLOZE_HELD_OUT:] if held_out else cases[:-CLOZE_HELD_OUT]

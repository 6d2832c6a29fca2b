"""Names in story text: which capitalised words are characters' (and places') names.

A word is a name when it is written with a capital inside a sentence, or when it starts
a sentence and is a word that cased stories never write in lower case (learned from
Story Cloze val by the truecaser: "Tom", "Gina", but not "The" or "Suddenly"). Days,
months, holidays and family words ("Mom") are not names. Used by the harness's name
drift metric and the coherence reranker's new-name feature, so both count the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SENTENCES = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")

NOT_NAMES = frozenset(
    """i i'm i've i'd i'll monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december christmas halloween thanksgiving easter
    mom dad mommy daddy grandma grandpa mother father god ok okay tv""".split()
)


@lru_cache(maxsize=1)
def _lower_words() -> frozenset[str]:
    """Words that cased stories write in lower case after a sentence start."""
    from engine.training.text import default_truecaser

    try:
        return default_truecaser().lower
    except OSError:  # the shared data sets are absent: fall back to the stop list only
        return frozenset()


def _common(word: str) -> bool:
    from engine.keywords import stop_words

    lower = word.lower()
    return lower in NOT_NAMES or lower in stop_words() or lower in _lower_words()


def names_in(text: str, known: Iterable[str] = ()) -> set[str]:
    """Lower-cased names in `text` (see the module docstring); `known` names (lower-cased)
    count at a sentence's start too, however common the word ("Mike", "Will")."""
    known = set(known)
    found: set[str] = set()
    for sentence in _SENTENCES.findall(text):
        for position, match in enumerate(_WORD.finditer(sentence)):
            word = match.group(0).split("'")[0]
            if not word[:1].isupper() or word.isupper() and len(word) > 1:
                continue
            if word.lower() in NOT_NAMES:
                continue
            if position > 0 or word.lower() in known or not _common(word):
                found.add(word.lower())
    return found


def new_names(sentence: str, before: Iterable[str]) -> set[str]:
    """Names in `sentence` that none of the texts `before` (premise, earlier sentences) has."""
    seen: set[str] = set()
    for text in before:
        seen |= names_in(text)
        seen |= {w.lower() for w in _WORD.findall(text)}  # a name written lower-case earlier still counts as known
    return names_in(sentence) - seen


def name_drift(stories: Iterable[tuple[str, list[str]]]) -> tuple[int, int]:
    """(continuation sentences that bring in a new name, continuation sentences) over
    (premise, continuation sentences) pairs."""
    drifting = total = 0
    for premise, sentences in stories:
        before = [premise]
        for sentence in sentences:
            drifting += bool(new_names(sentence, before))
            total += 1
            before.append(sentence)
    return drifting, total

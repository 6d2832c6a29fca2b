"""The story bible in the knowledge loop: the writer's entries as facts beside ConceptNet and WordNet.

An entry (a character, a place, an object, a rule of the world) has a name, trigger keys and a
text. It is triggered when one of its keys appears in the next sentence's keywords or in the
latest sentences of the story (`SCAN_SENTENCES`, premise included), or always when the writer
flagged it so. Triggered entries become `BibleFact`s that the contextual ranker scores against
the story together with the retrieved knowledge; the best-ranked of them hold up to half of the
prompt's fact places (`reserved_slots`), so a common keyword's WordNet facts cannot push out the
entry the writer keyed; entries flagged "always" are kept in the prompt like pinned facts. Keys match case-insensitively as whole words, and as plain substrings in
scripts written without spaces (Chinese, Japanese, Thai, ...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from engine.types import Fact, ScoredFact, StoryContext

SCAN_SENTENCES = 3  # the latest sentences (premise included) searched for keys
MAX_TRIGGERED = 64  # entries handed to the ranker per sentence; the rest are noted
PROMPT_CHARS = 600  # an entry's text in the prompt is clipped to this many characters
RELATION = "Bible"
SOURCE = "bible"


@dataclass(frozen=True)
class LoreEntry:
    """One entry of a story's bible as the engine matches it (storage keeps it as a `BibleEntry` row)."""

    name: str
    keys: tuple[str, ...]
    text: str
    always: bool = False
    entry_id: int | None = None

    def fact(self, trigger: str) -> BibleFact:
        """The entry as a fact; `trigger` is the key that matched, or "always"."""
        text = " ".join(self.text.split())
        if len(text) > PROMPT_CHARS:
            text = text[: PROMPT_CHARS - 1].rstrip() + "…"
        return BibleFact(RELATION, self.name, trigger, text, 1.0, SOURCE, entry=self.entry_id)


@dataclass(frozen=True)
class BibleFact(Fact):
    """A fact made from a bible entry; `entry` is the entry's id (None for entries not stored)."""

    entry: int | None = None


@dataclass(frozen=True)
class Triggered:
    """The entries a sentence draws on: kept always, found by their keys, and how many were left out."""

    always: list[BibleFact]
    matched: list[BibleFact]
    left_out: int = 0

    def notes(self) -> list[str]:
        return [f"story bible: {self.left_out} more triggered entries not ranked (first {MAX_TRIGGERED} kept)"] \
            if self.left_out else []


def triggered(entries: Iterable[LoreEntry], keywords: Iterable[str], context: StoryContext) -> Triggered:
    """The entries flagged always, and those whose keys appear in `keywords` or the latest sentences."""
    pieces = [context.premise, *context.sentences][-SCAN_SENTENCES:]
    haystack = _fold(" \n ".join([*keywords, *pieces]))
    always, matched, left_out = [], [], 0
    for entry in entries:
        if entry.always:
            always.append(entry.fact("always"))
            continue
        key = next((k for k in entry.keys if _matches(k, haystack)), None)
        if key is None:
            continue
        if len(matched) < MAX_TRIGGERED:
            matched.append(entry.fact(key))
        else:
            left_out += 1
    return Triggered(always, matched, left_out)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _matches(key: str, haystack: str) -> bool:
    folded = _fold(key).strip()
    return bool(folded) and _pattern(folded).search(haystack) is not None


@lru_cache(maxsize=65_536)
def _pattern(folded_key: str) -> re.Pattern[str]:
    """Whole words for keys in spaced scripts; a plain substring for keys in scripts without spaces."""
    if any(_unspaced(ch) for ch in folded_key):
        return re.compile(re.escape(folded_key))
    return re.compile(rf"(?<!\w){re.escape(folded_key)}(?!\w)")


def _unspaced(ch: str) -> bool:
    """Characters of scripts that do not separate words with spaces (CJK, kana, Thai, Lao, Khmer, ...)."""
    code = ord(ch)
    return (0x0E00 <= code <= 0x0EFF or 0x1780 <= code <= 0x17FF or 0x3040 <= code <= 0x30FF
            or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF
            or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FFFF)


def retrievable(entries: Iterable[LoreEntry], keywords: list[str]) -> list[str]:
    """The keywords worth looking up in WordNet/ConceptNet: not the name of a bible entry.

    A keyword that names an entry ("Mara", or "Joe" of "Grandpa Joe") means the story's own
    character or place, so the knowledge base's senses of the word ("a mara is a rodent") are
    left out; the entry speaks for it. Other keywords are looked up as before.
    """
    names = set()
    for entry in entries:
        words = entry.name.split()
        names.add(_fold(entry.name).strip())
        names.update(_fold(w) for w in words if len(words) > 1 and w[:1].isupper())
    return [k for k in keywords if _fold(k).strip() not in names]


def reserved_slots(top_n: int) -> int:
    """Places of the top N kept for entries triggered by their keys (the best-ranked of them):
    half, at least one. The rest of the places go to whatever ranks best, entries included."""
    return max(1, top_n // 2) if top_n > 0 else 0


def pinned_facts(entries: Iterable[LoreEntry], pinned: Iterable) -> list[Fact]:
    """The writer's pinned sentences as facts: a bible entry's text stays a bible fact, anything else is the writer's."""
    pinned = list(pinned)
    if not pinned:
        return []
    by_text = {}
    for entry in entries:
        fact = entry.fact("pinned")
        by_text.setdefault(fact.sentence, fact)
    facts = []
    for item in pinned:
        item = item.fact if isinstance(item, ScoredFact) else item
        facts.append(item if isinstance(item, Fact) else
                     by_text.get(item) or Fact(relation="Given", head="", tail="", sentence=str(item), source="writer"))
    return facts


def combine(pins: list[ScoredFact], always: list[ScoredFact], ranked: list[ScoredFact], vetoed: Iterable[str],
            top_n: int) -> list[ScoredFact]:
    """Pinned facts, then entries flagged always (unless vetoed), then the best of the rest; each sentence once."""
    veto, seen = set(vetoed), set()
    kept: list[ScoredFact] = []
    forced = 0
    for group, must in ((pins, True), (always, True), (ranked, False)):
        for scored in group:
            sentence = scored.fact.sentence
            if sentence in seen or (sentence in veto and group is not pins):
                continue
            seen.add(sentence)
            kept.append(scored)
            forced += must
    return kept[: max(top_n, forced)]

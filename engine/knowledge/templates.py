"""Relation templates: turn a triple into a natural sentence.

Templates live in `assets/relation_templates.json`. A slot is `{head}` or `{tail}`,
optionally with a filter: `a:` (noun phrase with an article, or a gerund for a verb
phrase), `ing:` (gerund for a verb phrase), `to:` ("to" + verb phrase, or a noun
phrase with an article), `pp:` (past participle of a verb phrase). Whether a phrase
is a verb phrase is decided with WordNet when present.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.knowledge.lemmas import FUNCTION_WORDS, active_wordnet
from engine.knowledge.wordnet_data import sense_counts
from engine.paths import asset

_SLOT = re.compile(r"\{(?:(a|ing|to|pp):)?(head|tail|relation)\}")
DETERMINERS = frozenset(
    "a an the my your his her its our their this that these those some any each every "
    "no many much few several all both another other one two three four five".split()
)
VOWEL_SOUND_EXCEPTIONS = ("uni", "use", "usu", "eu", "one", "once")  # "a unicorn"
PRONOUNS = frozenset(
    "something someone somebody anything anyone everything everyone nothing nobody "
    "you i he she it we they me him us them people".split()
)
SILENT_H = ("hour", "honest", "honor", "honour", "heir")  # "an hour"


@dataclass(frozen=True)
class TemplateSet:
    """Templates per relation plus the word lists the grammar helpers need."""

    templates: dict[str, str]
    fallback: str
    uncountable: frozenset[str]
    participles: dict[str, str]

    @classmethod
    def load(cls, path: Path | None = None) -> TemplateSet:
        data = json.loads((path or asset("relation_templates.json")).read_text())
        return cls(
            templates=dict(data["templates"]),
            fallback=data["fallback"],
            uncountable=frozenset(data["uncountable"]),
            participles=dict(data["irregular_participles"]),
        )


@lru_cache(maxsize=1)
def default_templates() -> TemplateSet:
    """The shipped template set (loaded once)."""
    return TemplateSet.load()


@lru_cache(maxsize=1)
def _wordnet_tables() -> tuple[frozenset[str], frozenset[str], dict[tuple[str, str], int]]:
    """Noun lemma names, verb lemma names and tagged-sense counts per (lemma, pos), read once."""
    wordnet = active_wordnet()
    nouns = frozenset(wordnet.all_lemma_names("n"))
    verbs = frozenset(wordnet.all_lemma_names("v"))
    counts: dict[tuple[str, str], int] = {}
    for key, count in sense_counts(wordnet).items():
        lemma, _, rest = key.partition("%")
        pos = {"1": "n", "2": "v"}.get(rest[:1])
        if pos:
            counts[lemma, pos] = counts.get((lemma, pos), 0) + count
    return nouns, verbs, counts


@lru_cache(maxsize=200_000)
def _verb_leaning(word: str) -> tuple[bool, bool]:
    """(has a verb sense, used more often as a verb than as a noun) by WordNet counts."""
    nouns, verbs, counts = _wordnet_tables()
    if word not in verbs:
        return False, False
    if word not in nouns:
        return True, True
    return True, counts.get((word, "v"), 0) > counts.get((word, "n"), 0)


@lru_cache(maxsize=200_000)
def is_verb_phrase(phrase: str) -> bool:
    """True when the phrase reads as an action ("play on ice"), not a thing ("rest area")."""
    tokens = phrase.split()
    wordnet = active_wordnet()
    if not tokens or wordnet is None or tokens[0] in PRONOUNS:
        return False
    if len(tokens) > 1 and "_".join(tokens) in _wordnet_tables()[0]:
        return False  # a compound noun WordNet knows, e.g. "rest area"
    first = wordnet.morphy(tokens[0], "v") or tokens[0]
    has_verb, mostly_verb = _verb_leaning(first)
    if len(tokens) > 1 and has_verb and tokens[1] in FUNCTION_WORDS:
        return True  # "play on ice", "blow it up"
    return mostly_verb


def _looks_plural(word: str) -> bool:
    return word.endswith("s") and not word.endswith(("ss", "us", "is", "ous"))


def with_article(phrase: str, uncountable: frozenset[str] = frozenset()) -> str:
    """Prefix "a"/"an" to a singular countable noun phrase."""
    tokens = phrase.split()
    if not tokens or tokens[0] in DETERMINERS or tokens[0] in PRONOUNS or tokens[0][0].isdigit():
        return phrase
    if _looks_plural(tokens[-1]) or tokens[-1] in uncountable:
        return phrase
    lower = phrase.lower()
    vowel = lower[0] in "aeiou" and not lower.startswith(VOWEL_SOUND_EXCEPTIONS)
    if vowel or lower.startswith(SILENT_H):
        return f"an {phrase}"
    return f"a {phrase}"


def _inflect_first(phrase: str, inflect) -> str:
    tokens = phrase.split()
    return " ".join([inflect(tokens[0]), *tokens[1:]])


def gerund(verb: str) -> str:
    """'run' -> 'running', 'make' -> 'making', 'play' -> 'playing', 'be' -> 'being'."""
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and verb not in ("be", "see", "flee", "agree") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    if _cvc(verb):
        return verb + verb[-1] + "ing"
    return verb + "ing"


def past_participle(verb: str, irregular: dict[str, str]) -> str:
    """'play' -> 'played', 'eat' -> 'eaten' (irregular table), 'stop' -> 'stopped'."""
    if verb in irregular:
        return irregular[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    if _cvc(verb):
        return verb + verb[-1] + "ed"
    return verb + "ed"


def _cvc(word: str) -> bool:
    """Short consonant-vowel-consonant words double the last letter ('run', 'stop')."""
    return (
        len(word) in (3, 4)
        and word[-1] not in "aeiouwxy"
        and word[-2] in "aeiou"
        and word[-3] not in "aeiou"
        and (len(word) == 3 or word[-4] not in "aeiou")
    )


_FILL_CACHE_SIZE = 500_000


class TemplateRenderer:
    """Renders triples with a `TemplateSet`."""

    def __init__(self, templates: TemplateSet | None = None):
        self.templates = templates or default_templates()
        self._compiled: dict[str, list[tuple[str, str | None, str | None]]] = {}
        self._filled: dict[tuple[str | None, str, str | None], str] = {}

    def _fill(self, filter_name: str | None, phrase: str, pos: str | None = None) -> str:
        """A slot's text, memoised: popular concepts recur in thousands of triples."""
        key = (filter_name, phrase, pos)
        filled = self._filled.get(key)
        if filled is None:
            if len(self._filled) >= _FILL_CACHE_SIZE:
                self._filled.clear()
            filled = self._filled[key] = self._fill_uncached(filter_name, phrase, pos)
        return filled

    def _fill_uncached(self, filter_name: str | None, phrase: str, pos: str | None) -> str:
        if filter_name is None or pos in ("a", "r"):
            return phrase  # adjectives and adverbs take no article or inflection
        verb = pos == "v" if pos in ("n", "v") else is_verb_phrase(phrase)
        if filter_name == "a":
            return _inflect_first(phrase, gerund) if verb else with_article(phrase, self.templates.uncountable)
        if filter_name == "ing":
            return _inflect_first(phrase, gerund) if verb else phrase
        if filter_name == "to":
            return f"to {phrase}" if verb else with_article(phrase, self.templates.uncountable)
        if verb:  # pp
            return _inflect_first(phrase, lambda w: past_participle(w, self.templates.participles))
        return phrase

    def _parts(self, relation: str) -> list[tuple[str, str | None, str | None]]:
        """Template split once into (literal, filter, slot) pieces."""
        parts = self._compiled.get(relation)
        if parts is None:
            base = relation.split("/")[0] if relation not in self.templates.templates else relation
            template = self.templates.templates.get(base, self.templates.fallback)
            parts, position = [], 0
            for match in _SLOT.finditer(template):
                parts.append((template[position : match.start()], match.group(1), match.group(2)))
                position = match.end()
            parts.append((template[position:], None, None))
            self._compiled[relation] = parts
        return parts

    def render(self, relation: str, head: str, tail: str, pos: str | None = None) -> str:
        """One sentence for the triple, capitalised and ending with a full stop.

        Args:
            pos: WordNet part of speech of the concepts ("n", "v", "a", "r") when known;
                it picks a "Relation/pos" template if one exists and skips guessing.
        """
        pos = {"s": "a"}.get(pos, pos)
        values = {"head": _clean(head), "tail": _clean(tail), "relation": relation}
        pieces = []
        for literal, filter_name, slot in self._parts(f"{relation}/{pos}" if pos else relation):
            pieces.append(literal)
            if slot is not None:
                pieces.append(self._fill(filter_name, values[slot], pos))
        text = " ".join("".join(pieces).split())
        if text.endswith(("..", "?.", "!.")):
            text = text[:-1]
        return text[:1].upper() + text[1:]


def _clean(phrase: str) -> str:
    """Concept text for display: underscores to spaces, trimmed."""
    return " ".join(phrase.replace("_", " ").split())


def template_relations(templates: TemplateSet | None = None) -> list[str]:
    """All relations with their own template."""
    return sorted((templates or default_templates()).templates)


"""Story metrics on plain text: repetition, diversity, odd sentences, keyword and knowledge use.

Every function takes strings and returns a number (or a reason), so each is tested on
hand-made texts with known answers. Words are lower-cased letter runs (apostrophes kept).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from engine.inflect import mentions

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

# Sentences no writer keeps, by kind, checked in this order (a chat opener that echoes the
# instruction counts as chat). Each pattern is searched case-insensitively.
ODD_PATTERNS: dict[str, tuple[str, ...]] = {
    "chat": (
        r"^\W*(?:sure|certainly|of course|absolutely|okay|ok|great|sounds good|here'?s|here is|i'd be happy|"
        r"i can help|as an ai)\b",
        r"\b(?:i hope this helps|let me know|feel free)\b",
    ),
    "definition": (
        r"^\W*(?:an?|the)?\s*[\w' -]{1,40}\b(?:is|are) (?:a|an) (?:kind|type|sort|form|way) of\b",
        r"\bis defined as\b", r"\bmeans the same as\b", r"\bis a synonym\b", r"\brefers to\b",
        r"^\W*to \w+ (?:means|is)\b", r"^\W*(?:an?|the) \w+ is (?:an?|the) \w+\W*$",
        r"^\W*an? [\w-]+(?: [\w-]+)? (?:is|are) (?:an?|the) ", r"\bwhich means\b",
    ),
    "instruction_echo": (
        r"\bnext (?:sentence|part)\b", r"\b(?:use|uses|using) the words?\b", r"\bkeywords?\b",
        r"\bfacts? that may help\b", r"\bthe story (?:continues|so far)\b", r"\blet'?s write\b",
    ),
}
_COMPILED = {kind: [re.compile(p, re.IGNORECASE) for p in pats] for kind, pats in ODD_PATTERNS.items()}


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def has_repeat(story: str, n: int = 4) -> bool:
    """True when some word n-gram occurs twice in the story."""
    grams = ngrams(words(story), n)
    return len(grams) != len(set(grams))


def repeat_n(stories: Iterable[str], n: int = 4) -> float | None:
    """Repeat-n: the share of stories with a repeated word n-gram."""
    stories = list(stories)
    return sum(has_repeat(s, n) for s in stories) / len(stories) if stories else None


def distinct_n(stories: Iterable[str], n: int = 4) -> float | None:
    """Distinct-n: distinct word n-grams over all n-grams, pooled over every story."""
    grams = [g for s in stories for g in ngrams(words(s), n)]
    return len(set(grams)) / len(grams) if grams else None


def words_per_sentence(sentences: Iterable[str]) -> float | None:
    counts = [len(words(s)) for s in sentences]
    return sum(counts) / len(counts) if counts else None


def odd_reason(sentence: str) -> str | None:
    """The kind of odd sentence this is (definition, instruction_echo, chat), or None."""
    text = sentence.strip()
    if not words(text):
        return "empty"
    for kind, patterns in _COMPILED.items():
        if any(p.search(text) for p in patterns):
            return kind
    return None


def odd_rate(sentences: Iterable[str]) -> float | None:
    sentences = list(sentences)
    return sum(odd_reason(s) is not None for s in sentences) / len(sentences) if sentences else None


def includes_all(sentence: str, keywords: Iterable[str]) -> bool:
    """Every keyword (or a regular inflection of it) appears in the sentence."""
    keywords = [k for k in keywords if k.strip()]
    return bool(keywords) and all(mentions(sentence, k) for k in keywords)


def share(flags: Iterable[bool]) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def uses_knowledge(sentence: str, facts: Iterable[str], keywords: Iterable[str] = ()) -> bool:
    """The sentence shares a content lemma with a fact it was given (keywords themselves don't count)."""
    from engine.knowledge.lemmas import content_lemmas

    mine = content_lemmas(sentence) - {lem for k in keywords for lem in content_lemmas(k)}
    return any(mine & content_lemmas(f) for f in facts)


def perplexity(total_nll: float, tokens: int) -> float | None:
    """exp(mean negative log-likelihood per token)."""
    return math.exp(total_nll / tokens) if tokens else None

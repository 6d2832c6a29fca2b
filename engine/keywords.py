"""RAKE-style keyword extraction and keyword validation.

RAKE (Rose et al., 2010) splits text into candidate phrases at stop words and
punctuation, scores each word by degree / frequency over those phrases, and scores
a phrase by the sum of its words. Tokenisation is NLTK's Treebank-style word
tokenizer, which needs no downloaded data.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from nltk.tokenize import NLTKWordTokenizer

from common.limits import MAX_KEYWORD_LIST
from engine.paths import asset

KEYWORDS_PER_SENTENCE = 3  # control keywords kept for one sentence
MAX_RAW_KEYWORDS = MAX_KEYWORD_LIST  # a longer list is clipped before validation
MAX_KEYWORD_CHARS = 40
_LETTER = r"[^\W\d_]"  # a letter of any script
_WORD_RE = re.compile(rf"^{_LETTER}(?:{_LETTER}|['-])*{_LETTER}$|^{_LETTER}$")
_TOKENIZER = NLTKWordTokenizer()


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """The stop list kept in `assets/stopwords.txt`."""
    lines = asset("stopwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def tokenize(text: str) -> list[str]:
    """Word tokens (Treebank conventions: "didn't" -> "did", "n't")."""
    return _TOKENIZER.tokenize(text)


def is_content_word(word: str) -> bool:
    """True for an alphabetic word of 3+ letters (or 2+ when capitalised) not on the stop list."""
    w = word.strip()
    if not _WORD_RE.match(w) or len(w) > MAX_KEYWORD_CHARS:
        return False
    if w.lower() in stop_words():
        return False
    return len(w) >= 3 or (len(w) == 2 and w[0].isupper())


def candidate_phrases(text: str) -> list[list[str]]:
    """Runs of content words between stop words and punctuation, lower-cased."""
    phrases: list[list[str]] = []
    current: list[str] = []
    for token in tokenize(text):
        if is_content_word(token):
            current.append(token.lower())
            continue
        if current:
            phrases.append(current)
        current = []
    if current:
        phrases.append(current)
    return phrases


@dataclass(frozen=True)
class RakeKeyword:
    phrase: str
    score: float
    position: int  # index of the phrase's first occurrence


def rake(text: str, max_words_per_phrase: int = 3) -> list[RakeKeyword]:
    """Score candidate phrases of `text` with RAKE; best first, ties by position."""
    phrases = [p for p in candidate_phrases(text) if len(p) <= max_words_per_phrase]
    freq: dict[str, int] = defaultdict(int)
    degree: dict[str, int] = defaultdict(int)
    for phrase in phrases:
        for word in phrase:
            freq[word] += 1
            degree[word] += len(phrase)
    scored: dict[str, RakeKeyword] = {}
    for position, phrase in enumerate(phrases):
        key = " ".join(phrase)
        if key not in scored:
            score = sum(degree[w] / freq[w] for w in phrase)
            scored[key] = RakeKeyword(key, score, position)
    return sorted(scored.values(), key=lambda k: (-k.score, k.position))


def extract_keywords(text: str, top_k: int = KEYWORDS_PER_SENTENCE, single_words: bool = False) -> list[str]:
    """Top RAKE keywords of a sentence.

    With `single_words`, words that stand alone between stop words come first (RAKE run
    with one-word phrases), then the words of the best longer phrases. That order agrees
    best with the one-keyword-per-sentence annotation of Plan-and-Write (see
    tests/engine/test_keywords.py for the measured agreement).
    """
    if not single_words:
        return [kw.phrase for kw in rake(text)][:top_k]
    out = [kw.phrase for kw in rake(text, max_words_per_phrase=1)]
    for kw in rake(text):
        out += [w for w in kw.phrase.split() if w not in out]
    return out[:top_k]


def clean_keywords(raw: list[str] | str, limit: int = KEYWORDS_PER_SENTENCE) -> tuple[list[str], list[str]]:
    """Validate user or model keywords.

    Args:
        raw: a list of strings, or one string separated by commas.
        limit: the most keywords kept.

    Returns:
        (kept, dropped): kept are content words or short content phrases, de-duplicated,
        in order; dropped lists what was refused (stop words, punctuation, over-long
        strings, duplicates, anything past `limit`).
    """
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    kept: list[str] = []
    dropped: list[str] = []
    for item in items:
        words = str(item).strip().split()
        phrase = " ".join(words)
        if not phrase:
            continue
        valid = 0 < len(words) <= 3 and len(phrase) <= MAX_KEYWORD_CHARS
        valid = valid and all(_WORD_RE.match(w) for w in words) and any(is_content_word(w) for w in words)
        if not valid or phrase.lower() in (k.lower() for k in kept) or len(kept) >= limit:
            dropped.append(phrase[:MAX_KEYWORD_CHARS])
            continue
        kept.append(phrase)
    return kept, dropped

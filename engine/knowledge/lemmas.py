"""Normalising words and concepts: lemmas for retrieval keys.

`lemmatize` uses NLTK's WordNet lemmatiser when WordNet is present and a Snowball
stemmer otherwise. Keys of a concept: the whole normalised phrase plus, for a
multi-word concept, its first and last content words (the head word of a verb
phrase and of a noun phrase), so "play on ice" is also found by "play" and "ice".
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from engine.knowledge.wordnet_data import load_wordnet

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
# Words that never make a useful key on their own (articles, pronouns, particles).
FUNCTION_WORDS = frozenset(
    """a an the of in on at to for from by with about into onto over under up down out off
    and or but not no nor so as than then if be is are was were been being am do does did
    have has had it its this that these those he she they them his her their you your i me
    my we us our one some any something someone thing who what which there here very
    can could will would should may might must""".split()
)


_WORDNET_DIR: dict[str, str | None] = {"data_dir": None}  # None: the product's data directory


def use_data_dir(folder: str | Path | None) -> None:
    """Read WordNet from this data directory (a server's --data-dir) from the next lemma on."""
    _WORDNET_DIR["data_dir"] = None if folder is None else str(folder)
    _backend.cache_clear()
    content_lemmas.cache_clear()  # lemmas of the old backend


@lru_cache(maxsize=1)
def _backend():
    """('wordnet', lemmatiser) when WordNet loads, else ('stem', stemmer)."""
    wordnet = load_wordnet(_WORDNET_DIR["data_dir"])
    if wordnet is not None:
        return "wordnet", wordnet  # its morphy() is the WordNet lemmatiser's core
    from nltk.stem.snowball import SnowballStemmer

    return "stem", SnowballStemmer("english")


def active_wordnet():
    """The WordNet reader the lemmatiser uses, or None when it falls back to stemming."""
    kind, tool = _backend()
    return tool if kind == "wordnet" else None


def backend_name() -> str:
    """Which normaliser is active: 'wordnet' or 'stem'."""
    return _backend()[0]


@lru_cache(maxsize=500_000)
def lemmatize(word: str) -> str:
    """Lemma of one lower-cased word: verb lemma if it differs, else noun, else adjective.

    Falls back to a Snowball stem when WordNet is not installed.
    """
    word = word.strip().lower()
    if not word:
        return word
    kind, tool = _backend()
    if kind == "stem":
        return tool.stem(word)
    for pos in ("v", "n", "a"):
        forms = tool._morphy(word, pos, check_exceptions=True)
        if forms:
            best = min(forms, key=len)
            if best != word or pos == "a":
                return best
            if pos == "n":
                return word
    return word


def words(text: str) -> list[str]:
    """Lower-case word tokens of a concept or sentence (`_` counts as a space)."""
    return _WORD.findall(text.lower().replace("_", " "))


@lru_cache(maxsize=500_000)
def concept_keys(concept: str) -> tuple[str, ...]:
    """Retrieval keys of a concept: its lemma phrase and its first/last content lemmas."""
    tokens = words(concept)
    if not tokens:
        return ()
    lemmas = [lemmatize(t) for t in tokens]
    keys = [" ".join(lemmas)]
    if len(lemmas) > 1:
        content = [lem for lem in lemmas if lem not in FUNCTION_WORDS]
        if content:
            keys.extend((content[0], content[-1]))
    return tuple(dict.fromkeys(keys))


def keyword_keys(keyword: str) -> tuple[str, ...]:
    """Lookup keys for one keyword: its lemma phrase (and the raw form when different)."""
    tokens = words(keyword)
    if not tokens:
        return ()
    lemma = " ".join(lemmatize(t) for t in tokens)
    raw = " ".join(tokens)
    return tuple(dict.fromkeys((lemma, raw)))


@lru_cache(maxsize=500_000)
def content_lemmas(text: str) -> frozenset[str]:
    """Lemmas of the content words of `text` (stop words and punctuation left out), lower-cased.

    Cached: the same fact sentences come back for thousands of training examples.
    """
    from engine.keywords import is_content_word, tokenize

    return frozenset(lemmatize(w.lower()) for w in tokenize(text) if is_content_word(w))

"""Simple English inflections, used to guide decoding and to check keyword inclusion."""

from __future__ import annotations

import re
from functools import lru_cache

_VOWELS = set("aeiou")


def _bases(word: str) -> set[str]:
    """Plausible base forms of a word ("died" -> die, "running" -> run, "cities" -> city)."""
    w = word.lower()
    bases = {w}
    rules = [("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("ing", ""), ("ing", "e")]
    for suffix, repl in rules:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            stem = w[: -len(suffix)] + repl
            bases.add(stem)
            if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS and not repl:
                bases.add(stem[:-1])  # running -> runn -> run
    if w.endswith("ying") and len(w) >= 5:
        bases.add(w[:-4] + "ie")  # dying -> die
    return bases


def _forms(base: str) -> set[str]:
    """Regular inflections of one base form."""
    forms = {base}
    if base.endswith("y") and len(base) > 2 and base[-2] not in _VOWELS:
        forms |= {base[:-1] + "ies", base[:-1] + "ied", base + "ing"}
    elif base.endswith("ie"):
        forms |= {base + "s", base + "d", base[:-2] + "ying"}
    elif base.endswith("e"):
        forms |= {base + "s", base + "d", base[:-1] + "ing"}
    elif re.search(r"(s|x|z|ch|sh)$", base):
        forms |= {base + "es", base + "ed", base + "ing"}
    else:
        forms |= {base + "s", base + "ed", base + "ing"}
        if len(base) >= 3 and base[-1] not in _VOWELS and base[-2] in _VOWELS and base[-3] not in _VOWELS and base[-1] not in "wxy":
            forms |= {base + base[-1] + "ed", base + base[-1] + "ing"}
    return forms


@lru_cache(maxsize=4096)
def inflections(word: str) -> frozenset[str]:
    """The word, its likely bases and their regular inflections, lower-cased."""
    out: set[str] = set()
    for base in _bases(word):
        out |= _forms(base)
    return frozenset(f for f in out if len(f) >= 3 or f == word.lower())


def mentions(text: str, keyword: str) -> bool:
    """True when `text` contains the keyword or an inflection of it (every word of a phrase)."""
    words = set(re.findall(r"[^\W\d_]+", text.lower()))
    for part in keyword.lower().split():
        if part in words or inflections(part) & words:
            continue
        if any(part in _bases(w) for w in words):
            continue
        return False
    return True

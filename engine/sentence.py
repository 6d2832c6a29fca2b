"""Sentence boundaries and clean-up of generated text."""

from __future__ import annotations

import re

ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "prof", "mt", "no"}
_END_RE = re.compile(r"[A-Za-z0-9\"')\]][.!?]+[\"')\]]?$")
_LABEL_RE = re.compile(r"^\s*(next sentence|sentence|answer|output|story)\s*:\s*", re.IGNORECASE)
_ARTEFACT_RE = re.compile(r"<\|[^|>]*\|>|</?s>|\[/?INST\]")


def word_count(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9']+", text))


def ends_sentence(text: str, min_words: int = 3) -> bool:
    """True when `text` (stripped) closes a sentence of at least `min_words` words."""
    t = text.rstrip()
    if not _END_RE.search(t) or word_count(t) < min_words:
        return False
    last = re.findall(r"([A-Za-z]+)\.$", t)
    return not (last and last[0].lower() in ABBREVIATIONS)


def cut_at_line_break(text: str) -> tuple[str, bool]:
    """Text up to the first line break after some content, and whether one was found."""
    stripped = text.lstrip()
    if "\n" in stripped:
        return stripped.split("\n", 1)[0], True
    return text, False


def _drop_dangling_words(text: str) -> str:
    """Remove trailing function words ("and", "the", ...) left by a cut sentence."""
    from engine.keywords import stop_words

    words = text.split()
    while len(words) > 1 and words[-1].lower().strip(",;:") in stop_words():
        words.pop()
    return " ".join(words).rstrip(",;:-–— ")


def clean_sentence(text: str, *, complete_last_word: bool = True) -> str:
    """Final form of a generated sentence: no labels, artefacts, or dangling word.

    Args:
        text: raw decoded text of one candidate.
        complete_last_word: False when generation stopped at the token limit inside a
            word; that partial word is dropped.
    """
    t = _ARTEFACT_RE.sub("", text)
    t = cut_at_line_break(t)[0]
    t = _LABEL_RE.sub("", t).strip()
    if t.count('"') % 2 == 1:
        t = t.replace('"', "")
    if not complete_last_word and " " in t and not ends_sentence(t, 1):
        t = t.rsplit(" ", 1)[0]
    t = t.strip()
    if t and not ends_sentence(t, 1):
        t = _drop_dangling_words(t.rstrip(",;:-–— ")) + "."
    if t and t[0].islower():
        t = t[0].upper() + t[1:]
    return t

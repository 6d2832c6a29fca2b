"""Keyword-guided decoding: raise each keyword's tokens until the keyword appears.

A small model asked to "use the word X" often ignores it. The guide adds a bias to
the logits of the tokens that start each still-missing keyword, growing with every
step, and a larger bias to the token that continues a keyword already begun, so
that multi-token words are completed. While a keyword is missing, sentence ends
are held back so the sentence cannot close without it. Strength 0 turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.inflect import mentions


@dataclass
class KeywordGuide:
    """Per-call guidance state for a batch of rows."""

    keywords: list[str]
    strength: float
    # keyword -> (token sequence that spells it, whether it may only open the sentence)
    variants: dict[str, list[tuple[tuple[int, ...], bool]]]
    end_ids: list[int]  # tokens that close a sentence (., !, ?, end of turn)
    ramp_steps: float = 6.0
    satisfied: list[set[str]] = field(default_factory=list)

    @classmethod
    def build(cls, tokenizer, keywords: list[str], strength: float, end_ids: list[int], rows: int) -> KeywordGuide:
        variants: dict[str, list[tuple[tuple[int, ...], bool]]] = {}
        for kw in keywords:
            seqs = set()
            mid = {(" " + kw, False), (" " + kw.lower(), False)}
            start = {(kw[:1].upper() + kw[1:], True)}
            for text, at_start in mid | start:
                ids = tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
                if ids:
                    seqs.add((ids, at_start))
            variants[kw] = sorted(seqs)
        return cls(keywords, strength, variants, end_ids, satisfied=[set() for _ in range(rows)])

    @property
    def active(self) -> bool:
        return self.strength > 0 and bool(self.keywords)

    def update(self, row: int, text: str) -> None:
        """Mark the keywords that row's text now contains."""
        for kw in self.keywords:
            if kw not in self.satisfied[row] and mentions(text, kw):
                self.satisfied[row].add(kw)

    def missing(self, row: int) -> list[str]:
        return [k for k in self.keywords if k not in self.satisfied[row]]

    def bias_rows(
        self, logits: torch.Tensor, generated: list[list[int]], rows: list[int], step: int, room: int
    ) -> torch.Tensor:
        """Add the guidance bias to (A, V) logits in place and return them.

        Args:
            logits: next-token logits of the active rows.
            generated: the ids generated so far, one list per active row.
            rows: the candidate index of each active row.
            step: how many tokens have been generated.
            room: tokens left before max_new_tokens.
        """
        if not self.active:
            return logits
        # Start gently so the sentence opens naturally, then grow until the keyword appears.
        boost = self.strength * (0.25 + step / self.ramp_steps)
        for a, (row, ids) in enumerate(zip(rows, generated, strict=True)):
            missing = self.missing(row)
            for kw in missing:
                self._bias_keyword(logits[a], ids, kw, boost)
            if missing and room > 4 * len(missing):
                logits[a, self.end_ids] = float("-inf")  # no sentence end while a keyword is missing
        return logits

    def _bias_keyword(self, row_logits: torch.Tensor, ids: list[int], kw: str, boost: float) -> None:
        for seq, at_start in self.variants[kw]:
            begun = _begun_length(ids, seq)
            if begun and (not at_start or begun == len(ids)):
                row_logits[seq[begun]] += 3.0 * boost  # finish a keyword already started
            elif at_start == (len(ids) == 0):
                row_logits[seq[0]] += boost


def _begun_length(ids: list[int], seq: tuple[int, ...]) -> int:
    """Length j (0 < j < len(seq)) of the longest seq prefix that ends `ids`, else 0."""
    for j in range(min(len(seq) - 1, len(ids)), 0, -1):
        if tuple(ids[-j:]) == seq[:j]:
            return j
    return 0

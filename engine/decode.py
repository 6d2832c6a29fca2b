"""The token loop: one sentence per row, streamed as text deltas.

All rows share one prompt (their KV cache was pre-filled once and repeated). Each
step adjusts the logits (bans, keyword guidance, repetition penalty, end pressure),
draws one token per active row, decodes the row's text, and stops a row at the
sentence boundary. Finished rows are dropped from the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from engine.alternatives import TokenChoice, token_choices
from engine.guidance import KeywordGuide
from engine.sampling import apply_repetition_penalty, choose_tokens
from engine.sentence import cut_at_line_break, ends_sentence, word_count
from engine.types import SamplingParams
from engine.vocab import VocabInfo

MIN_WORDS = 4
NO_COPY_NGRAM = 4


@dataclass
class RowState:
    ids: list[int] = field(default_factory=list)
    text: str = ""
    shown: int = 0  # characters already streamed
    done: bool = False
    cut_in_word: bool = False  # stopped at the token limit inside a word
    choices: list[TokenChoice] = field(default_factory=list)  # each written token with its alternatives


@dataclass(frozen=True)
class Delta:
    """A piece of streamed text for one candidate row."""

    row: int
    text: str


# Banned continuations by context length: {k: {last k tokens: tokens that may not follow}}.
BanTable = dict[int, dict[tuple[int, ...], set[int]]]


def copy_table(ids: list[int], n: int = NO_COPY_NGRAM) -> BanTable:
    """Map each (n-1)-gram of `ids` to the tokens that follow it there."""
    table: dict[tuple[int, ...], set[int]] = {}
    for i in range(len(ids) - n + 1):
        table.setdefault(tuple(ids[i : i + n - 1]), set()).add(ids[i + n - 1])
    return {n - 1: table}


def phrase_table(phrases: list[list[int]], into: BanTable | None = None) -> BanTable:
    """Add token sequences that must never be completed (their last token is banned after the rest)."""
    table: BanTable = into if into is not None else {}
    for ids in phrases:
        if ids:
            table.setdefault(len(ids) - 1, {}).setdefault(tuple(ids[:-1]), set()).add(ids[-1])
    return table


def _adjust(logits, rows, active, guide, vocab, seen, params, step, min_words, no_copy) -> torch.Tensor:
    """Apply bans, guidance and penalties to (A, V) logits of the active rows."""
    logits[:, list(vocab.banned)] = float("-inf")
    for a, r in enumerate(active):
        # Never copy a run of NO_COPY_NGRAM tokens from the story (small models love to repeat
        # it), nor complete a banned phrase such as an echo of the instruction.
        ids = rows[r].ids
        for k, table in no_copy.items():
            if len(ids) >= k:
                banned = table.get(tuple(ids[len(ids) - k :]))
                if banned:
                    logits[a, list(banned)] = float("-inf")
    room = params.max_new_tokens - step
    for a, r in enumerate(active):
        if word_count(rows[r].text) < min_words:
            # No empty or two-word sentences: hold back every way of ending.
            logits[a, list(vocab.end_of_text + vocab.terminal + vocab.line_break)] = float("-inf")
    if guide is not None and guide.active:
        logits = guide.bias_rows(logits, [rows[r].ids for r in active], active, step, room)
    logits = apply_repetition_penalty(logits, seen, params.repetition_penalty)
    if room <= 6:
        # Near the limit, favour closing the sentence so it is not cut.
        for a, r in enumerate(active):
            if guide is None or not guide.missing(r):
                logits[a, list(vocab.terminal)] += 1.5 * (7 - room)
    return logits


def _finish_row(state: RowState, tokenizer, token: int, vocab: VocabInfo, min_words: int) -> None:
    """Update a row after its new token; mark it done at a sentence end."""
    if token in vocab.end_of_text:
        state.done = True
        return
    state.ids.append(token)
    state.text = tokenizer.decode(state.ids, skip_special_tokens=True)
    text, broke = cut_at_line_break(state.text)
    if broke and text.strip():
        state.text, state.done = text, True
    elif ends_sentence(state.text, min_words):
        state.done = True


def decode_rows(
    *,
    model,
    tokenizer,
    cache,
    logits: torch.Tensor,
    params: SamplingParams,
    vocab: VocabInfo,
    guide: KeywordGuide | None,
    generator: torch.Generator,
    forward: Callable,
    min_words: int = MIN_WORDS,
    story_ids: list[int] | None = None,
    banned_phrases: list[list[int]] | None = None,
    forced: list[int] | None = None,
) -> Iterator[Delta | list[RowState]]:
    """Decode one sentence per row; yields Deltas, then the final list of RowStates.

    Args:
        logits: (B, V) logits of the first new token of each row.
        forward: forward(ids (A, 1), cache) -> (A, V) logits; runs one step.
        story_ids: prompt ids whose 4-grams the sentence must not copy.
        banned_phrases: token sequences the sentence must not contain.
        forced: tokens every row writes first (continuing a sentence from a chosen token);
            guidance, bans and the sentence end apply to what follows.
    """
    forced = forced or []
    no_copy = phrase_table(banned_phrases or [], into=copy_table(story_ids or []))
    n = logits.shape[0]
    rows = [RowState() for _ in range(n)]
    active = list(range(n))
    seen = torch.zeros_like(logits, dtype=torch.bool)  # (A, V) tokens already used per row
    for step in range(params.max_new_tokens):
        adjusted = _adjust(logits.clone(), rows, active, guide, vocab, seen, params, step, min_words, no_copy)
        tokens = choose_tokens(adjusted, params, generator)  # (A,)
        if step < len(forced):
            tokens = torch.full_like(tokens, forced[step])
        choices = (token_choices(adjusted, tokens, temperature=params.temperature, k=params.alternatives,
                                 tokenizer=tokenizer) if params.alternatives > 0 else None)
        for a, r in enumerate(active):
            if choices is not None and int(tokens[a]) not in vocab.end_of_text:
                rows[r].choices.append(choices[a])
            _finish_row(rows[r], tokenizer, int(tokens[a]), vocab, min_words)
            if guide is not None:
                guide.update(r, rows[r].text)
            delta = rows[r].text[rows[r].shown :]
            if delta and not delta.endswith("\ufffd"):
                rows[r].shown = len(rows[r].text)
                yield Delta(r, delta)
        seen[torch.arange(len(active)), tokens] = True
        keep = [a for a, r in enumerate(active) if not rows[r].done]
        if not keep:
            break
        if len(keep) < len(active):
            idx = torch.tensor(keep, dtype=torch.long)
            cache.batch_select_indices(idx)
            tokens, seen = tokens[idx], seen[idx]
            active = [active[a] for a in keep]
        logits = forward(tokens.unsqueeze(-1), cache)  # (A, V)
    else:
        _mark_cut_words(rows, active, logits, tokenizer)
    yield rows


def _mark_cut_words(rows, active, logits, tokenizer) -> None:
    """At the token limit, a row's last word is unfinished if the likeliest next token glues on."""
    best = logits.argmax(dim=-1).tolist()
    for a, r in enumerate(active):
        nxt = tokenizer.decode([best[a]])
        rows[r].cut_in_word = bool(nxt) and nxt[0].isalnum()


class RowRules:
    """The token loop's rules for one row, driven from outside: a server's logits processor.

    `adjust(output_ids, logits)` catches up with the tokens drawn so far and returns the
    adjusted (V,) logits: the same bans, guidance, penalty and end pressure as
    `decode_rows`, and, once the row has ended its sentence or used its token budget, only
    the end-of-text token, so the server stops where the in-process loop would.
    """

    def __init__(self, tokenizer, *, params: SamplingParams, keywords: list[str], min_words: int,
                 story_ids: list[int], banned_phrases: list[list[int]], vocab: VocabInfo):
        self.tokenizer = tokenizer
        self.params = params
        self.min_words = min_words
        self.vocab = vocab
        self.guide = KeywordGuide.build(tokenizer, keywords, params.keyword_strength,
                                        list(vocab.terminal + vocab.end_of_text), 1)
        self.no_copy = phrase_table(banned_phrases, into=copy_table(story_ids))
        self.state = RowState()
        self.drawn = 0
        self.seen: torch.Tensor | None = None  # (1, V)
        self.stop_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else vocab.end_of_text[0]

    def _observe(self, output_ids: list[int], width: int, device) -> None:
        if self.seen is None:
            self.seen = torch.zeros((1, width), dtype=torch.bool, device=device)
        for token in output_ids[self.drawn :]:
            if not self.state.done:
                _finish_row(self.state, self.tokenizer, int(token), self.vocab, self.min_words)
                self.guide.update(0, self.state.text)
            if 0 <= int(token) < width:
                self.seen[0, int(token)] = True
        self.drawn = len(output_ids)

    def adjust(self, output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
        """(V,) logits for the next token of a row that has drawn `output_ids`."""
        self._observe(output_ids, logits.shape[-1], logits.device)
        if self.state.done or self.drawn >= self.params.max_new_tokens:
            forced = torch.full_like(logits, float("-inf"))
            forced[self.stop_id] = 0.0
            return forced
        adjusted = _adjust(logits.unsqueeze(0).float().clone(), [self.state], [0], self.guide, self.vocab, self.seen,
                           self.params, self.drawn, self.min_words, self.no_copy)  # (1, V)
        return adjusted[0].to(logits.dtype)

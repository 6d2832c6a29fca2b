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
class CandidateDelta:
    """Text a candidate row added since its last delta (the token loop's streaming unit)."""

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


@dataclass(frozen=True)
class DecodeRules:
    """What the token loop applies to every row at every step of one sentence."""

    params: SamplingParams
    vocab: VocabInfo
    guide: KeywordGuide | None  # None: no keyword guidance
    min_words: int  # no sentence end before this many words
    no_copy: BanTable  # continuations banned after the row's last tokens (story 4-grams, echoes)


@dataclass
class LoopState:
    """Where the token loop stands: every row, the rows still decoding, and the tokens they used."""

    rows: list[RowState]
    active: list[int]  # indices into `rows` of the rows still in the batch, in batch order
    seen: torch.Tensor  # (A, V) tokens each active row has written
    step: int = 0


def adjust_logits(logits: torch.Tensor, rules: DecodeRules, state: LoopState) -> torch.Tensor:
    """Apply bans, guidance and penalties to (A, V) logits of the active rows."""
    logits[:, list(rules.vocab.banned)] = float("-inf")
    _ban_copies(logits, rules.no_copy, state)
    room = rules.params.max_new_tokens - state.step
    _hold_back_ends(logits, rules, state)
    if rules.guide is not None and rules.guide.active:
        logits = rules.guide.bias_rows(logits, [state.rows[r].ids for r in state.active], state.active, state.step,
                                       room)
    logits = apply_repetition_penalty(logits, state.seen, rules.params.repetition_penalty)
    if room <= 6:
        _favour_ends(logits, rules, state, room)
    return logits


def _ban_copies(logits: torch.Tensor, no_copy: BanTable, state: LoopState) -> None:
    """Never copy a run of NO_COPY_NGRAM tokens from the story (small models love to repeat
    it), nor complete a banned phrase such as an echo of the instruction."""
    for a, r in enumerate(state.active):
        ids = state.rows[r].ids
        for k, table in no_copy.items():
            if len(ids) >= k:
                banned = table.get(tuple(ids[len(ids) - k :]))
                if banned:
                    logits[a, list(banned)] = float("-inf")


def _hold_back_ends(logits: torch.Tensor, rules: DecodeRules, state: LoopState) -> None:
    """No empty or two-word sentences: hold back every way of ending before `min_words` words."""
    vocab = rules.vocab
    for a, r in enumerate(state.active):
        if word_count(state.rows[r].text) < rules.min_words:
            logits[a, list(vocab.end_of_text + vocab.terminal + vocab.line_break)] = float("-inf")


def _favour_ends(logits: torch.Tensor, rules: DecodeRules, state: LoopState, room: int) -> None:
    """Near the token limit, favour closing the sentence so it is not cut (once its keywords are in)."""
    for a, r in enumerate(state.active):
        if rules.guide is None or not rules.guide.missing(r):
            logits[a, list(rules.vocab.terminal)] += 1.5 * (7 - room)


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
) -> Iterator[CandidateDelta | list[RowState]]:
    """Decode one sentence per row; yields CandidateDeltas, then the final list of RowStates.

    Args:
        logits: (B, V) logits of the first new token of each row.
        forward: forward(ids (A, 1), cache) -> (A, V) logits; runs one step.
        story_ids: prompt ids whose 4-grams the sentence must not copy.
        banned_phrases: token sequences the sentence must not contain.
        forced: tokens every row writes first (continuing a sentence from a chosen token);
            guidance, bans and the sentence end apply to what follows.
    """
    forced = forced or []
    rules = DecodeRules(params, vocab, guide, min_words,
                        phrase_table(banned_phrases or [], into=copy_table(story_ids or [])))
    n = logits.shape[0]
    state = LoopState([RowState() for _ in range(n)], list(range(n)),
                      torch.zeros_like(logits, dtype=torch.bool))  # seen: (A, V)
    for step in range(params.max_new_tokens):
        state.step = step
        tokens, choices = _draw(logits, rules, state, generator, tokenizer, forced)
        yield from _write_tokens(tokens, choices, rules, state, tokenizer)
        state.seen[torch.arange(len(state.active)), tokens] = True
        tokens = _drop_finished(state, tokens, cache)
        if not state.active:
            break
        logits = forward(tokens.unsqueeze(-1), cache)  # (A, V)
    else:
        _mark_cut_words(state.rows, state.active, logits, tokenizer)
    yield state.rows


def _draw(logits: torch.Tensor, rules: DecodeRules, state: LoopState, generator: torch.Generator, tokenizer,
          forced: list[int]) -> tuple[torch.Tensor, list[TokenChoice] | None]:
    """One token per active row (A,) from the adjusted logits, and each with its alternatives when asked."""
    params = rules.params
    adjusted = adjust_logits(logits.clone(), rules, state)
    tokens = choose_tokens(adjusted, params, generator)  # (A,)
    if state.step < len(forced):
        tokens = torch.full_like(tokens, forced[state.step])
    choices = (token_choices(adjusted, tokens, temperature=params.temperature, k=params.alternatives,
                             tokenizer=tokenizer) if params.alternatives > 0 else None)
    return tokens, choices


def _write_tokens(tokens: torch.Tensor, choices: list[TokenChoice] | None, rules: DecodeRules, state: LoopState,
                  tokenizer) -> Iterator[CandidateDelta]:
    """Append each active row's token, update its keyword guidance and stream what its text gained."""
    for a, r in enumerate(state.active):
        row = state.rows[r]
        if choices is not None and int(tokens[a]) not in rules.vocab.end_of_text:
            row.choices.append(choices[a])
        _finish_row(row, tokenizer, int(tokens[a]), rules.vocab, rules.min_words)
        if rules.guide is not None:
            rules.guide.update(r, row.text)
        delta = row.text[row.shown :]
        if delta and not delta.endswith("\ufffd"):  # never half a UTF-8 character
            row.shown = len(row.text)
            yield CandidateDelta(r, delta)


def _drop_finished(state: LoopState, tokens: torch.Tensor, cache) -> torch.Tensor:
    """Take finished rows out of the batch (and the cache); returns the tokens of the rows that go on."""
    keep = [a for a, r in enumerate(state.active) if not state.rows[r].done]
    if not keep:
        state.active = []
        return tokens
    if len(keep) < len(state.active):
        idx = torch.tensor(keep, dtype=torch.long)
        cache.batch_select_indices(idx)
        tokens, state.seen = tokens[idx], state.seen[idx]
        state.active = [state.active[a] for a in keep]
    return tokens


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
        guide = KeywordGuide.build(tokenizer, keywords, params.keyword_strength,
                                   list(vocab.terminal + vocab.end_of_text), 1)
        self.rules = DecodeRules(params, vocab, guide, min_words,
                                 phrase_table(banned_phrases, into=copy_table(story_ids)))
        self.state = RowState()
        self.drawn = 0
        self.seen: torch.Tensor | None = None  # (1, V)
        self.stop_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else vocab.end_of_text[0]

    def _observe(self, output_ids: list[int], width: int, device) -> None:
        if self.seen is None:
            self.seen = torch.zeros((1, width), dtype=torch.bool, device=device)
        for token in output_ids[self.drawn :]:
            if not self.state.done:
                _finish_row(self.state, self.tokenizer, int(token), self.rules.vocab, self.rules.min_words)
                self.rules.guide.update(0, self.state.text)
            if 0 <= int(token) < width:
                self.seen[0, int(token)] = True
        self.drawn = len(output_ids)

    def adjust(self, output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
        """(V,) logits for the next token of a row that has drawn `output_ids`."""
        self._observe(output_ids, logits.shape[-1], logits.device)
        if self.state.done or self.drawn >= self.rules.params.max_new_tokens:
            forced = torch.full_like(logits, float("-inf"))
            forced[self.stop_id] = 0.0
            return forced
        at = LoopState([self.state], [0], self.seen, self.drawn)
        adjusted = adjust_logits(logits.unsqueeze(0).float().clone(), self.rules, at)  # (1, V)
        return adjusted[0].to(logits.dtype)

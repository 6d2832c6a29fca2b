"""A scripted, deterministic stand-in for the engine's Pipeline, for UI tests and demos.

It has the part of the Pipeline's interface the app uses (`model_id`, `knowledge_note`,
`suggest_keywords`, `plan_storyline`, `stream_step`). `enqueue([...])` makes the next sentence stream exactly
those chunks; otherwise it writes a fixed sentence that contains the keywords, word by word.
Its Steps keep the Pipeline's contract (keywords by `clean_keywords`, the same provenance
fields, pinned facts first); tests/app/test_engine_contract.py runs the same scenarios on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from engine import bible
from engine.alternatives import TokenChoice, TokenOption
from engine.keywords import MAX_RAW_KEYWORDS, clean_keywords
from engine.prompts import MEMORY_SHARE, NOTE_SHARE
from engine.storyline import Storyline, check_slots
from engine.types import Fact, SamplingParams, ScoredFact, Step, StoryContext

SCRIPTED_PROMPT_WORDS = 1_000  # the scripted prompt budget, for clipping notes
DEFAULT_KEYWORDS = (("phone", "battery"), ("store", "charger"), ("friend", "call"), ("home", "happy"))


@dataclass
class FakeCall:
    """One recorded call: which method, the story so far and the keywords asked for."""

    method: str
    context: StoryContext
    keywords: list[str]
    pinned: list[str] = field(default_factory=list)
    vetoed: list[str] = field(default_factory=list)


@dataclass
class FakeEngine:
    """Deterministic sentences that include their keywords; records every call.

    Args:
        model_id: Reported in each Step, as a real model id would be.
        chunk_delay_s: Pause between streamed chunks (to test double clicks and streaming).
    """

    model_id: str = "fake-engine"
    chunk_delay_s: float = 0.0
    knowledge_note: str = "scripted facts"
    calls: list[FakeCall] = field(default_factory=list)
    _queued: list[list[str]] = field(default_factory=list)
    _errors: list[Exception] = field(default_factory=list)

    def enqueue(self, chunks: list[str]) -> None:
        """The next sentence streams exactly these chunks."""
        self._queued.append(list(chunks))

    def fail_next(self, error: Exception) -> None:
        """The next `stream_step` raises `error` after its first chunk."""
        self._errors.append(error)

    def suggest_keywords(self, context: StoryContext, seed: int | None = None) -> list[str]:
        context = context.validated()
        self.calls.append(FakeCall("suggest_keywords", context, []))
        return list(DEFAULT_KEYWORDS[len(context.sentences) % len(DEFAULT_KEYWORDS)])

    def plan_storyline(self, context: StoryContext, count: int = 4, *, kept=(), seed: int | None = None) -> Storyline:
        """The scripted keywords of each later sentence (as `suggest_keywords` gives them), the first
        `kept` slots as given; the engine's limit on slots (`check_slots`) applies."""
        check_slots(count)
        context = context.validated()
        self.calls.append(FakeCall("plan_storyline", context, []))
        start = len(context.sentences)
        planned = [list(DEFAULT_KEYWORDS[(start + i) % len(DEFAULT_KEYWORDS)]) for i in range(len(kept), count)]
        return Storyline([list(s) for s in kept] + planned, "scripted", seed if seed is not None else 1234)

    def stream_step(
        self,
        context: StoryContext,
        *,
        keywords: Iterable[str] | str | None = None,
        facts: list | None = None,
        pinned: Iterable[str] = (),
        vetoed: Iterable[str] = (),
        params: SamplingParams | None = None,
        prefix_tokens: list[int] | None = None,
    ) -> Iterator[str | Step]:
        """Stream the sentence chunk by chunk, then yield its Step.

        Each chunk is one token of a scripted vocabulary, recorded with scripted alternatives;
        `prefix_tokens` (ids of those tokens) replace the sentence's first chunks, as the
        engine's forced tokens do.
        """
        start = time.perf_counter()
        context = context.validated()
        params = params or SamplingParams()
        seed = params.seed if params.seed is not None else 1234
        kws, source = _keywords(keywords), "given"
        if not kws:
            kws, source = self.suggest_keywords(context), "predicted"
        self.calls.append(FakeCall("stream_step", context, kws, list(pinned), list(vetoed)))
        notes = _clipping_notes(context)
        ranked = _facts(context, kws, list(pinned), set(vetoed), params.knowledge_top_n, notes)
        chunks = self._queued.pop(0) if self._queued else _sentence_chunks(kws, len(context.sentences))
        if prefix_tokens:
            forced = [SCRIPTED_TOKENS.text(t) for t in prefix_tokens]
            chunks = forced + chunks[len(forced):]
        for i, chunk in enumerate(chunks):
            if i == 1 and self._errors:
                raise self._errors.pop(0)
            if self.chunk_delay_s:
                time.sleep(self.chunk_delay_s)
            yield chunk
        sentence = "".join(chunks).strip()
        candidates = [sentence] + [f"{sentence[:-1]} again." for _ in range(params.n_candidates - 1)]
        yield Step(
            keywords=kws, facts=ranked, candidates=candidates, chosen=0,
            params=replace(params, seed=seed), seed=seed, model=self.model_id,
            timings_ms={"keywords": 0.0, "retrieve": 0.1, "rank": 0.1,
                        "generate": 1000 * (time.perf_counter() - start)},
            keywords_source=source, backend={"name": "scripted"},
            tokens=[SCRIPTED_TOKENS.record(chunks, params.alternatives)] if params.alternatives > 0 else [],
            steering=context.steering(), notes=notes,
        )


ALTERNATIVE_WORDS = (" suddenly", " rain", " quietly", " umbrella", " again", " home", " later", " slowly", " bread")


class ScriptedTokens:
    """Token ids for the scripted engine's chunks, and scripted alternatives with probabilities."""

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._ids: dict[str, int] = {}

    def id_of(self, text: str) -> int:
        if text not in self._ids:
            self._ids[text] = len(self._texts)
            self._texts.append(text)
        return self._ids[text]

    def text(self, token_id: int) -> str:
        if not 0 <= token_id < len(self._texts):
            raise ValueError(f"token {token_id} is not in the scripted vocabulary")
        return self._texts[token_id]

    def record(self, chunks: list[str], k: int) -> list[TokenChoice]:
        out = []
        for i, chunk in enumerate(chunks):
            others = [w for w in ALTERNATIVE_WORDS if w != chunk][i % 3 : i % 3 + k]
            options = tuple(TokenOption(self.id_of(w), w, round(0.3 / (j + 2), 4)) for j, w in enumerate(others))
            out.append(TokenChoice(self.id_of(chunk), chunk, 0.6, options))
        return out


SCRIPTED_TOKENS = ScriptedTokens()


def _clipping_notes(context: StoryContext) -> list[str]:
    """The prompt's clipping notes, as a budget of SCRIPTED_PROMPT_WORDS words (a word per token) gives them."""
    notes = []
    for name, text, share in (("memory", context.memory, MEMORY_SHARE), ("author's note", context.authors_note, NOTE_SHARE)):
        words, limit = len(text.split()), SCRIPTED_PROMPT_WORDS // share
        if words > limit:
            notes.append(f"{name} clipped to {limit} tokens of {words} to fit the prompt")
    return notes


def _keywords(keywords: Iterable[str] | str | None) -> list[str]:
    if not keywords:
        return []
    raw = keywords.split(",") if isinstance(keywords, str) else list(keywords)
    return clean_keywords(raw[:MAX_RAW_KEYWORDS])[0]  # the pipeline's own rule: at most KEYWORDS_PER_SENTENCE words


def _sentence_chunks(keywords: list[str], index: int) -> list[str]:
    words = ["Then", "the", *keywords, "mattered", "on", f"day {index + 1}."]
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _facts(context: StoryContext, keywords: list[str], pinned: list[str], vetoed: set[str], top_n: int,
           notes: list[str]) -> list[ScoredFact]:
    """Scripted knowledge for each keyword, the story bible's entries as the Pipeline draws on them
    (matched entries scored above the scripted facts), pinned first."""
    lore = bible.triggered(context.bible, keywords, context)
    notes.extend(lore.notes())
    found = [ScoredFact(Fact("RelatedTo", k, "story", f"A {k} can matter in a story."), 0.9 - 0.1 * i)
             for i, k in enumerate(keywords)]
    matched = [ScoredFact(f, 0.95) for f in lore.matched]
    pins = [ScoredFact(f, 1.0) for f in bible.pinned_facts(context.bible, pinned)]
    return bible.combine(pins, [ScoredFact(f, 1.0) for f in lore.always], matched + found, vetoed, top_n)

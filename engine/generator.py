"""The conditional generator: context + knowledge + keywords -> one sentence.

`Generator.stream` is the core: it builds the prompt, pre-fills it (re-using the
story prefix's KV cache), decodes N candidates in one batch and yields text deltas;
`generate` collects the stream.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from engine.alternatives import TokenChoice
from engine.decode import CandidateDelta, RowState, decode_rows
from engine.guidance import KeywordGuide
from engine.kvcache import PrefixCache
from engine.prompts import PromptIds, build_prompt, echo_phrase_ids
from engine.sentence import clean_sentence
from engine.types import SamplingParams, StoryContext
from engine.vocab import vocab_info


@dataclass(frozen=True)
class GeneratorConfig:
    """Limits of the generator; `max_context_tokens` also bounds CPU prefill time."""

    max_context_tokens: int = 2048
    reuse_prefix: bool = True

    @classmethod
    def from_name(cls, name: str) -> GeneratorConfig:
        presets = {"default": cls(), "tiny": cls(max_context_tokens=256), "long": cls(max_context_tokens=8192)}
        if name not in presets:
            raise ValueError(f"unknown generator preset {name!r}")
        return presets[name]


@dataclass
class GenerationResult:
    candidates: list[str]
    seed: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    new_tokens: int = 0
    reused_prefix_tokens: int = 0
    keywords_missing: list[list[str]] = field(default_factory=list)
    tokens: list[list[TokenChoice]] = field(default_factory=list)  # per candidate: each token and its alternatives


def collect(stream: Iterator[CandidateDelta | GenerationResult]) -> GenerationResult:
    """The GenerationResult that ends a `decode` or `stream` iterator (deltas are dropped)."""
    result = None
    for item in stream:
        if isinstance(item, GenerationResult):
            result = item
    assert result is not None
    return result


def resolve_seed(seed: int | None) -> int:
    return int(seed) if seed is not None else random.randrange(2**31)


class BaseGenerator:
    """What every generation backend shares: prompt building around a backend's `decode`.

    A backend (torch in this process, a vLLM server, llama.cpp) implements `decode`, which
    pre-fills a tokenised prompt and decodes `params.n_candidates` rows under the same rules
    (bans, keyword guidance, repetition penalty, sentence end); `stream` and `generate` are
    the same for all of them.
    """

    backend = "base"

    def __init__(self, tokenizer, model_id: str, config: GeneratorConfig | None = None,
                 *, prompt_style: str = "auto", adapter: str | None = None):
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.config = config or GeneratorConfig()
        self.prompt_style = prompt_style  # "cntrl" when a trained adapter is applied
        self.adapter = adapter  # the adapter's folder, for provenance
        self._echo_ids: list[list[int]] | None = None

    @property
    def context_window(self) -> int:
        return self.config.max_context_tokens

    def provenance(self) -> dict[str, str]:
        """Where sentences come from: the backend's name, plus its server and served model if any."""
        return {"name": self.backend}

    def _echo_phrases(self) -> list[list[int]]:
        """Instruction echoes the sentence may not contain (tokenised once)."""
        if self._echo_ids is None:
            self._echo_ids = echo_phrase_ids(self.tokenizer)
        return self._echo_ids

    def decode(
        self, prompt: PromptIds, *, params: SamplingParams, keywords: list[str], seed: int,
        cache_name: str = "story", min_words: int = 4, forced: list[int] | None = None,
    ) -> Iterator[CandidateDelta | GenerationResult]:
        """Pre-fill `prompt` and decode `params.n_candidates` rows; yields deltas then a result.

        `forced` tokens are written first by every row (a sentence continued from a chosen token).
        """
        raise NotImplementedError

    def stream(
        self, *, context: StoryContext, keywords: list[str], facts: list[str], params: SamplingParams,
        prefix_tokens: list[int] | None = None,
    ) -> Iterator[CandidateDelta | GenerationResult]:
        """Stream the next sentence: text deltas per candidate row, then the GenerationResult.

        Args:
            context: premise and sentences so far.
            keywords: control keywords the sentence should contain.
            facts: ranked knowledge sentences to condition on.
            params: sampling settings; `params.seed` (or a fresh random one) fixes the draw.
            prefix_tokens: token ids the sentence starts with (continuing from a chosen token).
        """
        prompt = build_prompt(
            self.tokenizer, context=context, keywords=keywords, facts=facts,
            max_prompt_tokens=self.context_window - params.max_new_tokens - 1, style=self.prompt_style,
        )
        yield from self.decode(prompt, params=params, keywords=keywords, seed=resolve_seed(params.seed),
                               forced=prefix_tokens)

    def generate(self, **kwargs) -> GenerationResult:
        """Collect `stream(**kwargs)` into its result."""
        return collect(self.stream(**kwargs))

    def close(self) -> None:
        """Release what the backend holds (connections, native memory); the default holds nothing."""


class Generator(BaseGenerator):
    """Writes the next sentence with a causal LM in this process; safe to share between threads."""

    backend = "torch"

    def __init__(self, model, tokenizer, model_id: str, config: GeneratorConfig | None = None,
                 *, prompt_style: str = "auto", adapter: str | None = None):
        super().__init__(tokenizer, model_id, config, prompt_style=prompt_style, adapter=adapter)
        self.model = model
        self.prefix_caches: dict[str, PrefixCache] = {}
        self._lock = threading.RLock()

    @property
    def context_window(self) -> int:
        window = getattr(self.model.config, "max_position_embeddings", None) or 2048
        return min(int(window), self.config.max_context_tokens)

    def _forward(self, ids: torch.Tensor, cache) -> torch.Tensor:
        out = self.model(input_ids=ids.to(self.model.device), cache=cache, use_cache=True)
        return out.logits[:, -1, :].float()  # (A, V)

    def decode(
        self, prompt: PromptIds, *, params: SamplingParams, keywords: list[str], seed: int,
        cache_name: str = "story", min_words: int = 4, forced: list[int] | None = None,
    ) -> Iterator[CandidateDelta | GenerationResult]:
        """Pre-fill `prompt` and decode `params.n_candidates` rows; yields deltas then a result."""
        with self._lock, torch.inference_mode():
            t0 = time.perf_counter()
            prefix_cache = self.prefix_caches.setdefault(cache_name, PrefixCache())
            if not self.config.reuse_prefix:
                prefix_cache.reset()
            rows = max(1, params.n_candidates)
            cache, logits = prefix_cache.start(self.model, prompt.prefix, prompt.suffix, rows)
            t1 = time.perf_counter()
            vocab = vocab_info(self.tokenizer)
            guide = KeywordGuide.build(self.tokenizer, keywords, params.keyword_strength, list(vocab.terminal + vocab.end_of_text), rows)
            generator = torch.Generator().manual_seed(seed)
            final: list[RowState] = []
            for item in decode_rows(
                model=self.model, tokenizer=self.tokenizer, cache=cache, logits=logits, params=params,
                vocab=vocab, guide=guide, generator=generator, forward=self._forward, min_words=min_words,
                story_ids=prompt.story_ids, banned_phrases=self._echo_phrases(), forced=forced,
            ):
                if isinstance(item, CandidateDelta):
                    yield item
                else:
                    final = item
            t2 = time.perf_counter()
            yield GenerationResult(
                candidates=[clean_sentence(r.text, complete_last_word=not r.cut_in_word) for r in final],
                seed=seed,
                timings_ms={"prefill": 1000 * (t1 - t0), "decode": 1000 * (t2 - t1)},
                notes=list(prompt.notes),
                new_tokens=sum(len(r.ids) for r in final),
                reused_prefix_tokens=prefix_cache.reused_tokens,
                keywords_missing=[guide.missing(i) for i in range(rows)],
                tokens=[r.choices for r in final],
            )

"""llama.cpp backend: decodes the GGUF file directly, with the same token loop as torch.

llama.cpp reads the 4-bit weights as they are (about a seventh of the bytes per token of
the converted float32 copy), so a CPU decodes several times faster. Only the forward pass
runs in llama.cpp: each step's logits come back to `engine.decode.decode_rows`, so bans,
keyword guidance, repetition penalty and the sentence end are exactly the torch path's.
Candidates are decoded one after another; the prompt's KV cache is kept between calls and
only the tokens after the longest shared prefix are pre-filled again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from engine.decode import CandidateDelta, RowState, decode_rows
from engine.generator import BaseGenerator, GenerationResult, GeneratorConfig
from engine.guidance import KeywordGuide
from engine.planner import ModelLoadError, one_line
from engine.prompts import PromptIds
from engine.sentence import clean_sentence
from engine.types import SamplingParams
from engine.vocab import vocab_info


class _OneRowCache:
    """decode_rows drops finished rows from its cache; with one row there is nothing to drop."""

    def batch_select_indices(self, idx: torch.Tensor) -> None:
        pass


def load_llama(gguf: str | Path, *, n_ctx: int, threads: int = 0, lora: str | Path | None = None):
    """A `llama_cpp.Llama` for `gguf` (and a GGUF LoRA adapter), or ModelLoadError."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelLoadError(
            "the llama-cpp backend needs llama-cpp-python: run bash scripts/setup.sh --llama-cpp"
        ) from exc
    threads = threads or len(os.sched_getaffinity(0))
    kwargs = {"lora_path": str(lora)} if lora else {}
    try:
        return llama_cpp.Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                               verbose=False, **kwargs)
    except Exception as exc:  # llama.cpp reports a bad file as ValueError or RuntimeError
        raise ModelLoadError(f"llama.cpp cannot load {gguf}{' with ' + str(lora) if lora else ''}: {one_line(exc)}") from exc


class LlamaCppGenerator(BaseGenerator):
    """Writes with llama.cpp; the tokenizer is the Hugging Face one of the same vocabulary."""

    backend = "llama-cpp"

    def __init__(self, llm, tokenizer, model_id: str, config: GeneratorConfig | None = None, *,
                 gguf: str = "", prompt_style: str = "auto", adapter: str | None = None, lora_gguf: str | None = None):
        super().__init__(tokenizer, model_id, config, prompt_style=prompt_style, adapter=adapter)
        self.llm = llm
        self.gguf = gguf
        self.lora_gguf = lora_gguf
        self._lock = threading.RLock()
        self.reused_tokens = 0

    @property
    def context_window(self) -> int:
        return min(int(self.llm.n_ctx()), self.config.max_context_tokens)

    def provenance(self) -> dict[str, str]:
        found = {"name": self.backend, "model_file": self.gguf}
        if self.lora_gguf:
            found["lora"] = self.lora_gguf
        return found

    def _logits(self) -> torch.Tensor:
        from llama_cpp import llama_get_logits_ith

        row = np.ctypeslib.as_array(llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(self.llm.n_vocab(),))
        return torch.from_numpy(row.copy()).unsqueeze(0)  # (1, V)

    def _prefill(self, ids: list[int]) -> torch.Tensor:
        """Evaluate `ids`, re-using the KV cache of the longest prefix already evaluated."""
        held = self.llm.n_tokens
        common = 0
        limit = min(held, len(ids) - 1)  # always evaluate at least one token to get its logits
        current = self.llm.input_ids
        while common < limit and int(current[common]) == ids[common]:
            common += 1
        self.llm.n_tokens = common  # eval() drops the cache past n_tokens
        self.reused_tokens = common
        self.llm.eval(ids[common:])
        return self._logits()

    def _forward(self, ids: torch.Tensor, cache) -> torch.Tensor:
        self.llm.eval([int(ids[0, 0])])  # ids: (1, 1)
        return self._logits()  # (1, V)

    def decode(
        self, prompt: PromptIds, *, params: SamplingParams, keywords: list[str], seed: int,
        cache_name: str = "story", min_words: int = 4, forced: list[int] | None = None,
    ) -> Iterator[CandidateDelta | GenerationResult]:
        rows = max(1, params.n_candidates)
        vocab = vocab_info(self.tokenizer)
        ends = list(vocab.terminal + vocab.end_of_text)
        guides = [KeywordGuide.build(self.tokenizer, keywords, params.keyword_strength, ends, 1) for _ in range(rows)]
        generator = torch.Generator().manual_seed(seed)
        final: list[RowState] = []
        timings = {"prefill": 0.0, "decode": 0.0}
        reused = 0
        with self._lock:
            threads = torch.get_num_threads()
            # llama.cpp's own threads do the heavy work; torch's logit edits are tiny, and its
            # intra-op threads would only compete with llama.cpp's for the same cores.
            torch.set_num_threads(1)
            try:
                for r in range(rows):
                    t0 = time.perf_counter()
                    logits = self._prefill(prompt.ids)
                    reused = self.reused_tokens if r == 0 else reused
                    t1 = time.perf_counter()
                    for item in decode_rows(
                        model=None, tokenizer=self.tokenizer, cache=_OneRowCache(), logits=logits, params=params,
                        vocab=vocab, guide=guides[r], generator=generator, forward=self._forward,
                        min_words=min_words, story_ids=prompt.story_ids, banned_phrases=self._echo_phrases(),
                        forced=forced,
                    ):
                        if isinstance(item, CandidateDelta):
                            yield CandidateDelta(r, item.text)
                        else:
                            final.extend(item)
                    timings["prefill"] += 1000 * (t1 - t0)
                    timings["decode"] += 1000 * (time.perf_counter() - t1)
            finally:
                torch.set_num_threads(threads)
        yield GenerationResult(
            candidates=[clean_sentence(s.text, complete_last_word=not s.cut_in_word) for s in final],
            seed=seed,
            timings_ms=timings,
            notes=list(prompt.notes),
            new_tokens=sum(len(s.ids) for s in final),
            reused_prefix_tokens=reused,
            keywords_missing=[g.missing(0) for g in guides],
            tokens=[s.choices for s in final],
        )

    def close(self) -> None:
        with self._lock:
            if self.llm is not None:
                self.llm.close()
                self.llm = None

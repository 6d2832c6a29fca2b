"""llama.cpp backend: decodes the GGUF file directly, with the same token loop as torch.

llama.cpp reads the 4-bit weights as they are (about a seventh of the bytes per token of
the converted float32 copy), so a CPU decodes several times faster. Only the forward pass
runs in llama.cpp: each step's logits come back to `engine.decode.decode_rows`, so bans,
keyword guidance, repetition penalty and the sentence end are exactly the torch path's.
The prompt's KV cache is kept between calls and only the tokens after the longest shared
prefix are pre-filled again. Several candidates decode together: the prompt's cells are shared
by one llama.cpp sequence per row (`llama_memory_seq_cp` in a unified KV cache) and each step
decodes one token of every active row in one batch.
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

SEQUENCES = 8  # candidate rows one batch decodes together (llama.cpp sequences of the context)
ROW_TOKENS = 64  # KV cells kept for each extra row's sentence beyond the prompt window


class _OneRowCache:
    """decode_rows drops finished rows from its cache; with one row there is nothing to drop."""

    def batch_select_indices(self, idx: torch.Tensor) -> None:
        pass


def load_llama(gguf: str | Path, *, n_ctx: int, threads: int = 0, lora: str | Path | None = None,
               sequences: int = SEQUENCES):
    """A `llama_cpp.Llama` for `gguf` (and a GGUF LoRA adapter) whose context holds `sequences`
    sequences in one unified KV cache of `n_ctx` cells, or ModelLoadError."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelLoadError(
            "the llama-cpp backend needs llama-cpp-python: run bash scripts/setup.sh"
        ) from exc
    threads = threads or len(os.sched_getaffinity(0))
    kwargs = {"lora_path": str(lora)} if lora else {}
    try:
        llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                              verbose=False, **kwargs)
        if sequences > 1:
            _widen_context(llm, sequences)
        return llm
    except Exception as exc:  # llama.cpp reports a bad file as ValueError or RuntimeError
        raise ModelLoadError(f"llama.cpp cannot load {gguf}{' with ' + str(lora) if lora else ''}: {one_line(exc)}") from exc


def _widen_context(llm, sequences: int) -> None:
    """Replace `llm`'s context by one with `sequences` sequences sharing a unified KV cache (the
    binding's constructor makes a one-sequence context), with the same LoRA adapter applied."""
    import ctypes

    import llama_cpp
    from llama_cpp import _internals

    params = type(llm.context_params).from_buffer_copy(llm.context_params)
    params.n_seq_max = min(sequences, llama_cpp.llama_max_parallel_sequences())
    params.kv_unified = True
    wide = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    if llm._lora_adapter is not None:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llm._lora_adapter)
        scales = (ctypes.c_float * 1)(llm.lora_scale)
        if llama_cpp.llama_set_adapters_lora(wide.ctx, adapters, 1, scales):
            wide.close()
            raise RuntimeError("cannot apply the LoRA adapter to the batched context")
    llm._ctx.close()
    llm._ctx = wide
    llm.context_params = params


def _decode_logits(llm, batch, entries: list[tuple[int, int, int]], what: str) -> torch.Tensor:
    """Decode (token, position, sequence) `entries` in `batch`, every one with its logits: (n, V)."""
    import llama_cpp

    batch.n_tokens = len(entries)
    for i, (token, pos, seq) in enumerate(entries):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
        batch.seq_id[i][0], batch.logits[i] = seq, True
    if llama_cpp.llama_decode(llm._ctx.ctx, batch) != 0:
        raise RuntimeError(f"llama.cpp could not decode {what} (KV cache full)")
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm._ctx.ctx), shape=(len(entries), llm.n_vocab()))
    return torch.from_numpy(logits.copy())  # (n, V)


class _SequenceRows:
    """Candidate rows decoded together, one llama.cpp sequence each, after a shared prompt.

    Sequence 0 holds the prompt's cells (the Llama object's own cache); the other rows'
    sequences share those cells by `llama_memory_seq_cp`. `forward` decodes one token of every
    active row in one batch; `batch_select_indices` drops finished rows as decode_rows asks;
    `close` removes what the rows wrote, leaving sequence 0's prompt for the next call.
    """

    def __init__(self, llm, prompt_len: int, rows: int):
        import llama_cpp

        self.llm, self.prompt_len, self.pos = llm, prompt_len, prompt_len
        self.rows = rows
        self.seqs = list(range(rows))  # the sequence of each active row, in batch order
        self.memory = llama_cpp.llama_get_memory(llm._ctx.ctx)
        for seq in self.seqs[1:]:
            llama_cpp.llama_memory_seq_cp(self.memory, 0, seq, -1, -1)
        self.batch = llama_cpp.llama_batch_init(rows, 0, 1)

    def batch_select_indices(self, idx: torch.Tensor) -> None:
        self.seqs = [self.seqs[i] for i in idx.tolist()]

    def forward(self, ids: torch.Tensor, cache) -> torch.Tensor:
        tokens = ids[:, 0].tolist()  # ids: (A, 1), one token per active row
        logits = _decode_logits(self.llm, self.batch, [(t, self.pos, seq) for t, seq in zip(tokens, self.seqs, strict=True)],
                                "the candidate rows")
        self.pos += 1
        return logits  # (A, V)

    def close(self) -> None:
        import llama_cpp

        for seq in range(1, self.rows):
            llama_cpp.llama_memory_seq_rm(self.memory, seq, -1, -1)
        llama_cpp.llama_memory_seq_rm(self.memory, 0, self.prompt_len, -1)  # row 0's sentence
        llama_cpp.llama_batch_free(self.batch)
        self.llm.n_tokens = self.prompt_len


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

    def target_nll(self, prefix: list[int], target: list[int]) -> float:
        """Summed negative log-likelihood of the `target` ids after the `prefix` ids, as
        engine.evaluation.scorer.target_nll gives for a torch model (gold perplexity on this path)."""
        import llama_cpp

        with self._lock:
            first = torch.log_softmax(self._prefill(prefix)[0].float(), dim=-1)  # (V,) before target[0]
            nll = -float(first[target[0]])
            if len(target) > 1:
                batch = llama_cpp.llama_batch_init(len(target) - 1, 0, 1)
                try:
                    entries = [(token, len(prefix) + i, 0) for i, token in enumerate(target[:-1])]
                    logp = torch.log_softmax(_decode_logits(self.llm, batch, entries, "the target"), dim=-1)  # (T-1, V)
                    nll -= float(logp.gather(1, torch.tensor(target[1:])[:, None]).sum())
                finally:
                    llama_cpp.llama_batch_free(batch)
                    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self.llm._ctx.ctx), 0, len(prefix), -1)
                    self.llm.n_tokens = len(prefix)
            return nll

    def _forward(self, ids: torch.Tensor, cache) -> torch.Tensor:
        self.llm.eval([int(ids[0, 0])])  # ids: (1, 1)
        return self._logits()  # (1, V)

    def _rows_per_batch(self, params: SamplingParams) -> int:
        """How many candidate rows fit one batch: the context's sequences, and the KV cells past
        the prompt window (each extra row's sentence needs up to max_new_tokens of them)."""
        sequences = int(self.llm.context_params.n_seq_max)
        spare = int(self.llm.n_ctx()) - self.context_window
        return max(1, min(sequences, 1 + spare // max(1, params.max_new_tokens)))

    def decode(
        self, prompt: PromptIds, *, params: SamplingParams, keywords: list[str], seed: int,
        cache_name: str = "story", min_words: int = 4, forced: list[int] | None = None,
    ) -> Iterator[CandidateDelta | GenerationResult]:
        """Pre-fill `prompt` (re-using the cached prefix) and decode `params.n_candidates` rows,
        as many together as one batch holds; yields deltas then a result."""
        rows = max(1, params.n_candidates)
        vocab = vocab_info(self.tokenizer)
        ends = list(vocab.terminal + vocab.end_of_text)
        generator = torch.Generator().manual_seed(seed)
        final: list[RowState] = []
        missing: list[list[str]] = []
        timings = {"prefill": 0.0, "decode": 0.0}
        reused = None
        with self._lock:
            threads = torch.get_num_threads()
            # llama.cpp's own threads do the heavy work; torch's logit edits are tiny, and its
            # intra-op threads would only compete with llama.cpp's for the same cores.
            torch.set_num_threads(1)
            try:
                size = self._rows_per_batch(params)
                for first in range(0, rows, size):
                    n = min(size, rows - first)
                    t0 = time.perf_counter()
                    logits = self._prefill(prompt.ids)  # (1, V)
                    reused = self.reused_tokens if reused is None else reused
                    t1 = time.perf_counter()
                    guide = KeywordGuide.build(self.tokenizer, keywords, params.keyword_strength, ends, n)
                    for item in self._decode_batch(prompt, logits.repeat(n, 1), params=params, vocab=vocab,
                                                   guide=guide, generator=generator, min_words=min_words,
                                                   forced=forced):
                        if isinstance(item, CandidateDelta):
                            yield CandidateDelta(first + item.row, item.text)
                        else:
                            final.extend(item)
                    missing.extend(guide.missing(i) for i in range(n))
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
            reused_prefix_tokens=reused or 0,
            keywords_missing=missing,
            tokens=[s.choices for s in final],
        )

    def _decode_batch(self, prompt: PromptIds, logits: torch.Tensor, *, params: SamplingParams, vocab, guide,
                      generator: torch.Generator, min_words: int, forced: list[int] | None):
        """decode_rows over the (n, V) first logits: one row in the Llama object's own sequence (its
        sentence stays cached for the next call), several as sequences sharing the prompt's cells."""
        n = logits.shape[0]
        if n == 1:
            cache, forward = _OneRowCache(), self._forward
        else:
            cache = _SequenceRows(self.llm, len(prompt.ids), n)
            forward = cache.forward
        try:
            yield from decode_rows(
                model=None, tokenizer=self.tokenizer, cache=cache, logits=logits, params=params, vocab=vocab,
                guide=guide, generator=generator, forward=forward, min_words=min_words,
                story_ids=prompt.story_ids, banned_phrases=self._echo_phrases(), forced=forced,
            )
        finally:
            if n > 1:
                cache.close()

    def close(self) -> None:
        with self._lock:
            if self.llm is not None:
                self.llm.close()
                self.llm = None

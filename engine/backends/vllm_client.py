"""vLLM backend: the pipeline's sentences written by a vLLM server (OpenAI completions API).

The prompt goes as token ids, tokenised here by the served model's own tokenizer, so the
server sees exactly what the torch path would pre-fill. Sampling (temperature, top-k,
top-p, seed, `n` candidates, streaming) is vLLM's; CNTRL's own rules (bans, the no-copy
4-gram ban, keyword guidance, repetition penalty, the sentence end) run on the server in
`engine.backends.vllm_plugin`, switched on per request. A server that has not loaded the
plugin (a hosted endpoint) gets `logit_bias` on the keywords' first tokens and a stop at
the line end instead, and each Step says that guidance was approximate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from engine.backends import BackendUnavailable
from engine.decode import CandidateDelta
from engine.generator import BaseGenerator, GenerationResult, GeneratorConfig
from engine.guidance import KeywordGuide
from engine.inflect import mentions
from engine.planner import one_line
from engine.prompts import PromptIds
from engine.sentence import clean_sentence, cut_at_line_break, ends_sentence
from engine.types import SamplingParams
from engine.vocab import vocab_info

XARG = "cntrl"  # the vllm_xargs key the server plugin reads
PROBE_TEXT = " probe"  # what the plugin forces for a probe request
APPROXIMATE = "keyword guidance approximate: the server has no CNTRL logits processor (logit_bias on keyword first tokens)"


class VllmGenerator(BaseGenerator):
    """Writes through a vLLM server at `server_url` (".../v1") serving `served_model`."""

    backend = "vllm"

    def __init__(self, tokenizer, model_id: str, *, server_url: str, served_model: str,
                 config: GeneratorConfig | None = None, prompt_style: str = "auto", adapter: str | None = None,
                 timeout_s: float = 120.0, guidance: str = "auto"):
        super().__init__(tokenizer, model_id, config, prompt_style=prompt_style, adapter=adapter)
        self.server_url = server_url.rstrip("/")
        self.served_model = served_model
        self.timeout_s = timeout_s
        self.guidance = guidance  # auto (probe the server once) | plugin | logit-bias
        self._client = None

    def provenance(self) -> dict[str, str]:
        return {"name": self.backend, "server_url": self.server_url, "served_model": self.served_model,
                "guidance": self.guidance}

    def _http(self):
        if self._client is None:
            self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s, connect=5.0))
        return self._client

    def _post(self, body: dict):
        """A streaming POST to /completions, or BackendUnavailable with one line on why."""
        try:
            request = self._http().build_request("POST", f"{self.server_url}/completions", json=body)
            response = self._http().send(request, stream=True)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the vLLM server at {self.server_url} does not answer: {one_line(exc)}") from exc
        if response.status_code != 200:
            detail = response.read().decode("utf-8", "replace")[:300]
            response.close()
            raise BackendUnavailable(f"the vLLM server at {self.server_url} refused the request "
                                     f"(HTTP {response.status_code}): {one_line(detail)}")
        return response

    def check(self) -> None:
        """Probe the server once: does it answer, serve the model, and run the CNTRL plugin?"""
        if self.guidance != "auto":
            return
        body = {"model": self.served_model, "prompt": [self.tokenizer.eos_token_id or 0], "max_tokens": 1,
                "temperature": 0.0, "vllm_xargs": {XARG: json.dumps({"probe": True})}}
        response = self._post(body)
        try:
            text = json.loads(response.read())["choices"][0]["text"]
        finally:
            response.close()
        self.guidance = "plugin" if text == PROBE_TEXT else "logit-bias"

    def _body(self, prompt: PromptIds, params: SamplingParams, keywords: list[str], seed: int,
              min_words: int, rows: int) -> dict:
        vocab = vocab_info(self.tokenizer)
        body = {
            "model": self.served_model, "prompt": prompt.ids, "n": rows, "seed": seed, "stream": True,
            "temperature": max(0.0, params.temperature), "top_p": params.top_p if params.temperature > 0 else 1.0,
            "top_k": params.top_k if params.top_k and params.temperature > 0 else -1,
            "stop_token_ids": list(vocab.end_of_text), "skip_special_tokens": True,
        }
        if self.guidance == "plugin":
            body["max_tokens"] = params.max_new_tokens + 1  # the plugin ends the row with one more token
            body["vllm_xargs"] = {XARG: json.dumps({
                "keywords": keywords, "strength": params.keyword_strength, "min_words": min_words,
                "story_len": len(prompt.story_ids), "repetition_penalty": params.repetition_penalty,
                "max_new_tokens": params.max_new_tokens,
            })}
        else:
            body["max_tokens"] = params.max_new_tokens
            body["repetition_penalty"] = params.repetition_penalty
            body["stop"] = ["\n"]
            guide = KeywordGuide.build(self.tokenizer, keywords, params.keyword_strength, [], 1)
            if guide.active:
                firsts = {seq[0] for variants in guide.variants.values() for seq, _ in variants}
                body["logit_bias"] = {str(t): min(100.0, 1.5 * params.keyword_strength) for t in firsts}
        return body

    def decode(
        self, prompt: PromptIds, *, params: SamplingParams, keywords: list[str], seed: int,
        cache_name: str = "story", min_words: int = 4, forced: list[int] | None = None,
    ) -> Iterator[CandidateDelta | GenerationResult]:
        if forced:
            raise ValueError("continuing a sentence from a chosen token needs the torch or llama-cpp backend; "
                             "the vLLM server does not take forced tokens")
        self.check()
        rows = max(1, params.n_candidates)
        texts = [""] * rows
        shown = [0] * rows
        done = [False] * rows
        t0 = time.perf_counter()
        first_token_ms = None
        response = self._post(self._body(prompt, params, keywords, seed, min_words, rows))
        finished = False
        try:
            for line in response.iter_lines():
                if line == "data: [DONE]":
                    finished = True
                if not line.startswith("data: ") or finished:
                    continue
                for choice in json.loads(line[6:]).get("choices", []):
                    r = int(choice.get("index", 0))
                    if r >= rows or done[r]:
                        continue
                    if first_token_ms is None:
                        first_token_ms = 1000 * (time.perf_counter() - t0)
                    texts[r], done[r] = _sentence_so_far(texts[r] + choice.get("text", ""), min_words)
                    delta = texts[r][shown[r]:]
                    if delta and not delta.endswith("\ufffd"):
                        shown[r] = len(texts[r])
                        yield CandidateDelta(r, delta)
        except (httpx.HTTPError, json.JSONDecodeError) as exc:  # dropped, or the server restarted mid-sentence
            raise BackendUnavailable(f"the vLLM server at {self.server_url} stopped mid-sentence: "
                                     f"{one_line(exc)}; nothing was saved, try again") from exc
        finally:
            response.close()
        if not finished:  # the connection closed cleanly, but before the server said it was done
            raise BackendUnavailable(f"the vLLM server at {self.server_url} closed the stream mid-sentence; "
                                     "nothing was saved, try again")
        notes = list(prompt.notes)
        if self.guidance != "plugin" and keywords and params.keyword_strength > 0:
            notes.append(APPROXIMATE)
        t1 = time.perf_counter()
        yield GenerationResult(
            candidates=[clean_sentence(t) for t in texts], seed=seed,
            timings_ms={"first_token": first_token_ms or 0.0, "decode": 1000 * (t1 - t0)},
            notes=notes, new_tokens=sum(len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts),
            keywords_missing=[[k for k in keywords if not mentions(t, k)] for t in texts],
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _sentence_so_far(text: str, min_words: int) -> tuple[str, bool]:
    """The row's text cut at a line break, and whether its sentence is over."""
    cut, broke = cut_at_line_break(text)
    if broke and cut.strip():
        return cut, True
    return text, ends_sentence(text, min_words)

"""CNTRL's keyword-guided decoding inside a vLLM server, as a custom logits processor.

The server loads it at start-up (`--logits-processors
engine.backends.vllm_plugin:KeywordGuideProcessor`, which `scripts/serve_vllm.sh` passes)
and a request switches it on with `vllm_xargs={"cntrl": "<json>"}`; requests without it are
left alone, so concurrent requests keep their own settings. Each request (each of its `n`
candidates) gets its own `engine.decode.RowRules`: the in-process loop's bans, keyword
guidance, repetition penalty and sentence end, applied to the server's logits.

The request's JSON names: keywords, strength, min_words, story_len (prompt tokens whose
4-grams the sentence may not copy), repetition_penalty, max_new_tokens; `{"probe": true}`
answers by forcing the probe token, so a client can tell that the plugin is loaded.

Only the project's light modules are imported (torch, transformers and the standard
library), so it runs in vLLM's own virtualenv with the repository on PYTHONPATH.
"""

from __future__ import annotations

import json

import torch
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

from engine.backends.vllm_client import PROBE_TEXT, XARG
from engine.decode import RowRules
from engine.prompts import echo_phrase_ids
from engine.types import SamplingParams
from engine.vocab import vocab_info


def rules_request(spec: dict, tokenizer, echo: list[list[int]]):
    """The per-request processor (prompt_ids, output_ids, logits (V,)) -> logits for `spec`."""
    if spec.get("probe"):
        probe = tokenizer(PROBE_TEXT, add_special_tokens=False)["input_ids"][0]

        def force(prompt_ids: list[int], output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
            forced = torch.full_like(logits, float("-inf"))
            forced[probe] = 0.0
            return forced

        return force
    params = SamplingParams(repetition_penalty=float(spec.get("repetition_penalty", 1.0)),
                            max_new_tokens=int(spec.get("max_new_tokens", 40)),
                            keyword_strength=float(spec.get("strength", 0.0)))
    keywords = [str(k) for k in spec.get("keywords", [])]
    state: dict[str, RowRules] = {}

    def apply(prompt_ids: list[int], output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
        if "rules" not in state:
            story = list(prompt_ids[: int(spec.get("story_len", len(prompt_ids)))])
            state["rules"] = RowRules(tokenizer, params=params, keywords=keywords,
                                      min_words=int(spec.get("min_words", 4)), story_ids=story,
                                      banned_phrases=echo, vocab=vocab_info(tokenizer))
        return state["rules"].adjust(output_ids, logits)

    return apply


class KeywordGuideProcessor(AdapterLogitsProcessor):
    """vLLM logits processor: CNTRL's decoding rules for requests that ask for them."""

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        super().__init__(vllm_config, device, is_pin_memory)
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(vllm_config.model_config.tokenizer)
        self.echo = echo_phrase_ids(self.tokenizer)
        vocab_info(self.tokenizer)  # classify the vocabulary once, at start-up

    def is_argmax_invariant(self) -> bool:
        return False  # it bans and boosts tokens, so greedy decoding changes too

    def new_req_logits_processor(self, params):
        raw = (params.extra_args or {}).get(XARG)
        if not raw:
            return None
        spec = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return rules_request(spec, self.tokenizer, self.echo)

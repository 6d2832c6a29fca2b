"""Reuse of the story prefix's KV cache from one sentence to the next.

The generator's prompt starts with the story so far, which only grows between
sentences. `PrefixCache` keeps the key/value states of the last prefix; a new
prompt re-uses the longest common run of ids, crops what differs and pre-fills
only the new tokens.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def forward_tokens(model, ids: list[int], cache: DynamicCache, rows: int = 1) -> torch.Tensor:
    """Run `ids` (the same for every row) through the model; returns (rows, V) last logits."""
    input_ids = torch.tensor([ids] * rows, dtype=torch.long, device=model.device)  # (rows, T)
    out = model(input_ids=input_ids, cache=cache, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1, :].float()  # (rows, V)


@dataclass
class PrefixCache:
    """KV states of the last prompt prefix seen (batch of one)."""

    ids: list[int] = field(default_factory=list)
    cache: DynamicCache | None = None
    reused_tokens: int = 0  # of the last call, for timings and benchmarks

    def reset(self) -> None:
        self.ids, self.cache, self.reused_tokens = [], None, 0

    def start(self, model, prefix: list[int], suffix: list[int], rows: int) -> tuple[DynamicCache, torch.Tensor]:
        """Pre-fill prefix (re-using what matches) and suffix; returns a working cache and logits.

        The returned cache holds `rows` copies of prefix + suffix; the kept prefix cache
        is left untouched by later decoding. Logits: (rows, V) for the first new token.
        """
        common = common_prefix_length(self.ids, prefix) if self.cache is not None else 0
        if self.cache is None or common == 0:
            self.cache, self.ids = DynamicCache(config=model.config), []
        elif common < len(self.ids):
            self.cache.crop(-(len(self.ids) - common))
            self.ids = self.ids[:common]
        self.reused_tokens = common
        # One forward pass for the new story tokens and the suffix together (a pass reads every
        # weight, the main cost on a CPU); the kept cache is then cropped back to the prefix.
        logits = forward_tokens(model, prefix[common:] + suffix, self.cache)  # (1, V)
        self.ids = list(prefix)
        work = copy.deepcopy(self.cache)
        if suffix:
            self.cache.crop(-len(suffix))
        if rows > 1:
            work.batch_repeat_interleave(rows)
            logits = logits.expand(rows, -1).clone()  # (rows, V)
        return work, logits

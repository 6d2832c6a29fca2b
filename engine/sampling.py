"""Next-token selection: repetition penalty, temperature, top-k, top-p, seeded draws."""

from __future__ import annotations

import torch

from engine.types import SamplingParams


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty on tokens already generated in each row.

    logits: (B, V); seen: (B, V) bool. Positive logits are divided and negative ones
    multiplied, so a seen token always becomes less likely.
    """
    if penalty == 1.0:
        return logits
    # Touch only the seen entries: two full-vocabulary passes per token cost more than the rest.
    rows, cols = seen.nonzero(as_tuple=True)
    values = logits[rows, cols]
    out = logits.clone()
    out[rows, cols] = torch.where(values > 0, values / penalty, values * penalty)
    return out


def filter_top_k_top_p(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Mask (B, V) logits outside the top-k set and the top-p nucleus with -inf."""
    if top_k and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # Drop a token when the mass before it already reaches top_p; the first token always stays.
        drop_sorted = (cum - torch.softmax(sorted_logits, dim=-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose_tokens(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
    """Pick one token per row from (B, V) logits; returns (B,) ids."""
    if params.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / params.temperature
    if params.top_k and 0 < params.top_k < logits.shape[-1]:
        # Same distribution as masking the vocabulary, but top-p's sort and the draw run over
        # k entries instead of the whole vocabulary (about 10 ms less per token for 49k tokens).
        values, index = torch.topk(logits, params.top_k, dim=-1)  # (B, k), best first
        values = filter_top_k_top_p(values, 0, params.top_p)
        probs = torch.softmax(values.float(), dim=-1)
        pick = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1) index into k
        return index.gather(-1, pick).squeeze(-1)
    logits = filter_top_k_top_p(logits, params.top_k, params.top_p)
    probs = torch.softmax(logits.float(), dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)

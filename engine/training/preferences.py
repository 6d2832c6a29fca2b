"""The preference stage: DPO on top of the supervised adapter.

Pairs are JSONL lines in the format `python -m app pairs` exports: `prompt` (the story
before the sentence), `chosen` and `rejected` (two versions of the sentence) and an
optional `meta` whose `chosen` provenance may carry the keywords and facts the sentence
was written with. Both sentences are scored under the same prompt, in the product's
"cntrl" format. DPO (Rafailov et al. 2023) raises the policy's log-probability margin of
chosen over rejected relative to a frozen reference (the adapter it starts from):

    loss = -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))

The reference log-probabilities are computed once, before training, by the same weights.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.training.batches import collate, model_inputs
from engine.training.data import IGNORE, Encoded, Example, encode


@dataclass(frozen=True)
class PreferencePair:
    """Two versions of one sentence after the same story: the chosen and the rejected one."""

    prompt: str
    chosen: str
    rejected: str
    keywords: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class DPOConfig:
    beta: float = 0.1
    lr: float = 5e-5
    epochs: int = 1
    batch_size: int = 4
    max_tokens: int = 192
    val_share: float = 0.1
    seed: int = 0


def _provenance_lists(meta: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    side = meta.get("chosen") if isinstance(meta, dict) else None
    if not isinstance(side, dict):
        return (), ()
    keywords = tuple(str(k) for k in side.get("keywords") or [] if str(k).strip())
    facts = tuple(str(f.get("sentence") or f.get("text") or "") if isinstance(f, dict) else str(f)
                  for f in side.get("facts") or [])
    return keywords, tuple(f for f in facts if f.strip())


def read_preferences(path: Path) -> list[PreferencePair]:
    """Pairs from a JSONL file; a malformed line raises ValueError naming its line number."""
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}, line {number}: expected an object with prompt, chosen and rejected")
        missing = [k for k in ("prompt", "chosen", "rejected") if not isinstance(raw.get(k), str) or not raw[k].strip()]
        if missing:
            raise ValueError(f"{path}, line {number}: missing or empty {', '.join(missing)}")
        if raw["chosen"].strip() == raw["rejected"].strip():
            raise ValueError(f"{path}, line {number}: chosen and rejected are the same sentence")
        keywords, facts = _provenance_lists(raw.get("meta") or {})
        pairs.append(PreferencePair(raw["prompt"].strip(), raw["chosen"].strip(), raw["rejected"].strip(), keywords, facts))
    if not pairs:
        raise ValueError(f"{path}: no preference pairs")
    return pairs


def encode_pair(tokenizer, pair: PreferencePair, *, max_tokens: int) -> tuple[Encoded, Encoded]:
    """(chosen, rejected) encoded under the same "cntrl" prompt; only the sentence tokens are labelled."""
    def side(target: str) -> Encoded:
        return encode(tokenizer, Example("sentence", pair.prompt, (), pair.keywords, pair.facts, target), max_tokens=max_tokens)

    return side(pair.chosen), side(pair.rejected)


def sequence_logps(model, items: list[Encoded], pad_id: int) -> torch.Tensor:
    """Summed log-probability of each item's labelled tokens: (B,)."""
    batch = collate(items, pad_id)
    dtype = next(model.parameters()).dtype
    logits = model(**model_inputs(batch, dtype)).logits[:, :-1, :].float()  # (B, T-1, V)
    labels = batch["labels"][:, 1:]  # (B, T-1)
    mask = labels != IGNORE
    picked = torch.gather(logits.log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return (picked * mask).sum(dim=1)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean DPO loss over (B,) summed log-probabilities."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)  # (B,)
    return -torch.nn.functional.logsigmoid(beta * margin).mean()


@torch.no_grad()
def pair_logps(model, encoded: list[tuple[Encoded, Encoded]], pad_id: int, batch_size: int = 8) -> torch.Tensor:
    """(N, 2) log-probabilities of chosen and rejected for every pair."""
    model.eval()
    rows = []
    for start in range(0, len(encoded), batch_size):
        part = encoded[start : start + batch_size]
        chosen = sequence_logps(model, [c for c, _ in part], pad_id)
        rejected = sequence_logps(model, [r for _, r in part], pad_id)
        rows.append(torch.stack([chosen, rejected], dim=1))
    return torch.cat(rows) if rows else torch.zeros((0, 2))


def preference_accuracy(logps: torch.Tensor) -> float:
    """Share of pairs whose chosen sentence is likelier than the rejected one."""
    return float((logps[:, 0] > logps[:, 1]).float().mean()) if len(logps) else 0.0


def train_dpo(model, tokenizer, pairs: list[PreferencePair], *, config: DPOConfig) -> dict:
    """DPO on `model` (its trainable weights: a LoRA adapter) over `pairs`; returns the figures.

    A `val_share` of pairs is held out: the preference accuracy before and after is measured on it.
    """
    rng = random.Random(config.seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    held = max(1, int(len(pairs) * config.val_share)) if config.val_share > 0 else 0
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [encode_pair(tokenizer, pairs[i], max_tokens=config.max_tokens) for i in order]
    val, train = encoded[:held], encoded[held:]
    before = pair_logps(model, val, pad)
    reference = pair_logps(model, train, pad)  # (N, 2): the starting weights, frozen
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    losses = []
    for _ in range(config.epochs):
        batches = list(range(0, len(train), config.batch_size))
        rng.shuffle(batches)
        model.train()
        for start in batches:
            part, ref = train[start : start + config.batch_size], reference[start : start + config.batch_size]
            chosen = sequence_logps(model, [c for c, _ in part], pad)
            rejected = sequence_logps(model, [r for _, r in part], pad)
            loss = dpo_loss(chosen, rejected, ref[:, 0], ref[:, 1], config.beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    after = pair_logps(model, val, pad)
    return {"pairs": len(pairs), "train_pairs": len(train), "held_out_pairs": len(val), "losses": losses,
            "accuracy_before": preference_accuracy(before), "accuracy_after": preference_accuracy(after)}

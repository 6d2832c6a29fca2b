"""Deterministic batches for training: the same order on every process and after a resume.

The order of global batches depends only on (seed, epoch), so a resumed run skips the
batches already seen and continues with exactly the next ones, and each data-parallel
process takes its own slice of each global batch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch

from engine.training.data import IGNORE, Encoded


def global_batches(lengths: list[int], *, batch_size: int, seed: int, epoch: int, group: int = 32) -> list[list[int]]:
    """Example indices grouped into global batches of similar length, in a seeded order.

    Indices are shuffled, cut into runs of `group` batches, sorted by length inside a run
    (less padding), cut into batches, and the batches shuffled again. A last partial batch
    is dropped so every step sees `batch_size` examples.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    run = batch_size * group
    batches = []
    for start in range(0, len(order), run):
        chunk = sorted(order[start : start + run], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    batches = [b for b in batches if len(b) == batch_size]
    rng.shuffle(batches)
    return batches


def batch_stream(lengths: list[int], *, batch_size: int, seed: int, start_step: int = 0) -> Iterator[tuple[int, list[int]]]:
    """(epoch, global batch) for every step from `start_step` on, epoch after epoch."""
    if len(lengths) < batch_size:
        raise ValueError(f"{len(lengths)} training examples cannot fill one batch of {batch_size}")
    step, epoch = 0, 0
    while True:
        for batch in global_batches(lengths, batch_size=batch_size, seed=seed, epoch=epoch):
            if step >= start_step:
                yield epoch, batch
            step += 1
        epoch += 1


def rank_slice(batch: list[int], rank: int, world: int) -> list[int]:
    """This process's share of a global batch (the batch size is a multiple of `world`)."""
    per = len(batch) // world
    return batch[rank * per : (rank + 1) * per]


def micro_batches(indices: list[int], size: int) -> list[list[int]]:
    return [indices[i : i + size] for i in range(0, len(indices), size)]


def collate(items: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors: input_ids, attention_mask, labels and loss weights, each (B, T).

    When any item is a packed story (`Encoded.segments`), the batch also carries
    `tree_mask` (B, 1, T, T) boolean and `position_ids` (B, T); plain items in the same
    batch get the ordinary causal rule through the same mask.
    """
    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    weights = torch.ones((len(items), width), dtype=torch.float32)
    for row, e in enumerate(items):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
        if e.weights is not None:
            weights[row, :n] = torch.tensor(e.weights, dtype=torch.float32)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels, "weights": weights}
    if any(e.segments is not None for e in items):
        batch.update(packed_tensors(items, width))
    return batch


def packed_tensors(items: list[Encoded], width: int) -> dict[str, torch.Tensor]:
    """The tree attention mask and position ids of a batch holding packed stories."""
    from engine.training.packing import PAD, TRUNK, tree_attention_mask

    segments = torch.full((len(items), width), PAD, dtype=torch.long)
    limits = torch.zeros((len(items), width), dtype=torch.long)
    positions = torch.zeros((len(items), width), dtype=torch.long)
    for row, e in enumerate(items):
        n = len(e.input_ids)
        segments[row, :n] = torch.tensor(e.segments) if e.segments is not None else TRUNK
        limits[row, :n] = torch.tensor(e.limits) if e.limits is not None else torch.arange(1, n + 1)
        positions[row, :n] = torch.tensor(e.positions) if e.positions is not None else torch.arange(n)
    return {"tree_mask": tree_attention_mask(segments, limits), "position_ids": positions}


def model_inputs(batch: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Keyword arguments of the model's forward pass for a collated batch."""
    if "tree_mask" not in batch:
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    from engine.training.packing import additive_mask

    return {"input_ids": batch["input_ids"], "attention_mask": additive_mask(batch["tree_mask"], dtype),
            "position_ids": batch["position_ids"], "use_cache": False}


def per_example_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean next-token loss over each example's target tokens: (B, T, V), (B, T) -> (B,).

    With `weights` (B, T) each target token's loss is scaled by its weight; the mean still
    divides by the number of target tokens, so a weight above 1 makes that token count more.
    """
    shift_logits = logits[:, :-1, :].float()  # (B, T-1, V)
    shift_labels = labels[:, 1:]  # (B, T-1)
    token_loss = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1), ignore_index=IGNORE, reduction="none"
    ).view(shift_labels.shape)  # (B, T-1)
    if weights is not None:
        token_loss = token_loss * weights[:, 1:]  # (B, T-1)
    counts = (shift_labels != IGNORE).sum(dim=1).clamp(min=1)  # (B,)
    return token_loss.sum(dim=1) / counts

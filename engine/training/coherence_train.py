"""Train the coherence reranker's discriminator and measure it on held-out Story Cloze.

Every distinct text (story so far, latest sentence, premise, candidate) is embedded once
by the encoder; the discriminator then trains on feature rows with binary cross-entropy.
Accuracy on Story Cloze is the share of held-out stories whose right ending scores above
the wrong one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.coherence import CoherenceConfig, CoherenceReranker, CoherenceScorer, text_features
from engine.training.coherence_data import ClozeCase, CoherencePair


@dataclass(frozen=True)
class CoherenceTrainConfig:
    epochs: int = 6
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0


def pair_features(pairs: list[CoherencePair], encode: Callable, *, batch: int = 512) -> torch.Tensor:
    """Feature rows of every pair: (len(pairs), F), embedding each distinct text once."""
    texts: dict[str, int] = {}
    for p in pairs:
        for t in (" ".join([p.premise, *p.sentences]), (p.sentences[-1] if p.sentences else p.premise), p.premise, p.candidate):
            texts.setdefault(t, len(texts))
    order = list(texts)
    vectors = torch.cat([encode(order[i : i + batch]) for i in range(0, len(order), batch)])  # (n_texts, D)

    def rows(key: Callable[[CoherencePair], str]) -> torch.Tensor:
        return vectors[[texts[key(p)] for p in pairs]]  # (N, D)

    hand = torch.tensor([text_features(p.premise, list(p.sentences), p.candidate) for p in pairs], dtype=vectors.dtype)
    return CoherenceScorer.inputs(
        rows(lambda p: " ".join([p.premise, *p.sentences])),
        rows(lambda p: p.sentences[-1] if p.sentences else p.premise),
        rows(lambda p: p.premise), rows(lambda p: p.candidate), hand,
    )


def train_scorer(features: torch.Tensor, labels: torch.Tensor, *, model_config: CoherenceConfig,
                 config: CoherenceTrainConfig) -> tuple[CoherenceScorer, list[float]]:
    """Fit the MLP on (N, F) features and (N,) 0/1 labels; returns it and each epoch's mean loss."""
    torch.manual_seed(config.seed)
    scorer = CoherenceScorer(model_config)
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = random.Random(config.seed)
    losses = []
    scorer.train()
    for _ in range(config.epochs):
        order = list(range(len(labels)))
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            logits = scorer(features[rows])  # (B,)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels[rows].float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        losses.append(total / max(1, len(order)))
    scorer.eval()
    return scorer, losses


def cloze_accuracy(reranker: CoherenceReranker, cases: list[ClozeCase]) -> tuple[int, int]:
    """(stories whose right ending scores above the wrong one, stories)."""
    right = 0
    for case in cases:
        scores = reranker.score(case.sentences[0], list(case.sentences[1:]), [case.right, case.wrong])
        right += scores[0] > scores[1]
    return right, len(cases)


def pair_accuracy(scorer: CoherenceScorer, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows classified right at 0.5."""
    with torch.no_grad():
        predicted = scorer(features) > 0  # (N,)
    return float((predicted == labels.bool()).float().mean())

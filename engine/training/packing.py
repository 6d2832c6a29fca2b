"""Whole stories per training sequence: the story once, each sentence's prompt as a branch.

Every generator example of sentence i reads the same story text (premise .. sentence
i-1) followed by its own instruction (knowledge, keywords) and target. Built one by one,
sentence 5's example repeats the story prefix of sentences 2, 3 and 4. A packed story
computes that story once, as a *trunk*, and hangs each example's instruction and target
off it as a *branch*:

    trunk:    [premise][ s2][ s3][ s4][ s5]           (loss on s2..s5: the story itself)
    branch 2: ^cut after premise -> [Knowledge.. Keywords.. Next sentence:][ s2 <eos>]
    branch 5: ^cut after s4      -> [Keywords.. Next sentence:][ s5 <eos>]

A branch token sees the trunk up to its cut and the earlier tokens of its own branch,
never another branch, and its position ids continue from the cut. So each branch's
logits equal those of the example built alone (tested), while the story's tokens are
read once per story instead of once per sentence. The trunk's own sentence tokens carry
the plain story loss (each sentence from the story before it, without instructions),
which the per-sentence examples never trained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from engine.training.data import IGNORE, Encoded, Example, example_prompt, target_ids
from engine.types import StoryContext

TRUNK = 0  # segment id of the story tokens; branches are 1, 2, ...
PAD = -1  # segment id of padding


@dataclass(frozen=True)
class PackConfig:
    """How stories are packed."""

    max_tokens: int = 640  # one packed sequence at most; branches that do not fit are dropped
    story_weight: float = 1.0  # loss weight of the trunk's sentence tokens (0: no story loss)
    keyword_weight: float = 1.0  # loss weight of target tokens that spell the sentence's keywords


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def story_sentences(examples: list[Example]) -> tuple[str, tuple[str, ...]]:
    """Premise and later sentences of the story these examples were drawn from."""
    premise = examples[0].premise
    longest: tuple[str, ...] = ()
    for e in examples:
        seen = e.sentences + ((e.target,) if e.task == "sentence" else ())
        if len(seen) > len(longest):
            longest = seen
    return premise, longest


def _branch(tokenizer, example: Example, trunk: list[int], max_tokens: int, keyword_weight: float):
    """(cut, branch ids, labels, weights) of one example, or None when its prompt does not share the trunk."""
    target, weights = target_ids(tokenizer, example, keyword_weight)
    weights = weights or [1.0] * len(target)
    prompt = example_prompt(tokenizer, example, max(8, max_tokens - len(target)))
    cut = len(prompt.prefix)
    if prompt.notes or prompt.prefix != trunk[:cut]:
        return None  # clipped or framed differently: not a branch of this trunk
    head = prompt.suffix
    return cut, head + target, [IGNORE] * len(head) + target, [0.0] * len(head) + weights


def pack_story(tokenizer, examples: list[Example], *, config: PackConfig, budget: int = 192) -> Encoded:
    """One packed sequence for the examples of one story (see the module docstring).

    Args:
        tokenizer: a Hugging Face tokenizer.
        examples: the story's examples, all with the same premise and story.
        config: packing limits and loss weights.
        budget: the most prompt + target tokens of one example, as for `encode`.
    """
    premise, sentences = story_sentences(examples)
    pieces = [_encode(tokenizer, p) for p in _pieces(premise, sentences)]
    trunk = [i for p in pieces for i in p]
    labels = list(_encode_trunk_labels(pieces))
    weights = [config.story_weight if l != IGNORE else 0.0 for l in labels]
    segments, limits, positions = [TRUNK] * len(trunk), list(range(1, len(trunk) + 1)), list(range(len(trunk)))
    ids = list(trunk)
    for number, example in enumerate(examples, start=1):
        found = _branch(tokenizer, example, trunk, budget, config.keyword_weight)
        if found is None or len(ids) + len(found[1]) > config.max_tokens:
            continue
        cut, branch, branch_labels, branch_weights = found
        ids += branch
        labels += branch_labels
        weights += branch_weights
        segments += [number] * len(branch)
        limits += [cut] * len(branch)
        positions += list(range(cut, cut + len(branch)))
    return Encoded(ids, labels, weights, segments=segments, limits=limits, positions=positions)


def _pieces(premise: str, sentences: Iterable[str]) -> list[str]:
    from engine.prompts import story_pieces

    return story_pieces(StoryContext(premise, tuple(sentences)))


def _encode_trunk_labels(pieces: list[list[int]]) -> Iterable[int]:
    """Labels of the trunk: the premise is context; every later sentence is learned."""
    for number, piece in enumerate(pieces):
        yield from ([IGNORE] * len(piece) if number == 0 else piece)


def group_by_story(examples: list[Example]) -> list[list[Example]]:
    """Examples grouped by their story (consecutive runs with the same `story` and premise)."""
    groups: list[list[Example]] = []
    for e in examples:
        if groups and groups[-1][0].story == e.story and groups[-1][0].premise == e.premise:
            groups[-1].append(e)
        else:
            groups.append([e])
    return groups


def tree_attention_mask(segments: torch.Tensor, limits: torch.Tensor) -> torch.Tensor:
    """Boolean attention of packed rows: (B, T) segments and limits -> (B, 1, T, T), True = may attend.

    A query sees trunk keys before its limit (the trunk's own causal rule, or a branch's
    cut) and keys of its own branch up to itself. Padding queries see only themselves, so
    no softmax row is empty.
    """
    width = segments.size(1)
    keys = torch.arange(width, device=segments.device)  # (T,)
    causal = keys[None, :] <= keys[:, None]  # (T, T): key <= query
    trunk_key = (segments == TRUNK)[:, None, :] & (keys[None, None, :] < limits[:, :, None])  # (B, T, T)
    same_branch = (segments[:, :, None] == segments[:, None, :]) & (segments[:, :, None] > TRUNK) & causal  # (B, T, T)
    pad_self = (segments == PAD)[:, :, None] & torch.eye(width, dtype=torch.bool, device=segments.device)  # (B, T, T)
    return (trunk_key | same_branch | pad_self)[:, None, :, :]  # (B, 1, T, T)


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """0 where attention is allowed, the dtype's lowest value elsewhere: (B, 1, T, T)."""
    zero = torch.zeros((), dtype=dtype, device=allowed.device)
    return torch.where(allowed, zero, torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=allowed.device))

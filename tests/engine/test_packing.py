"""Whole stories per sequence: a packed story's branches read exactly what the examples built
alone read, branches never see each other, and only sentence tokens carry loss."""

from __future__ import annotations

import pytest
import torch

from engine.testing import build_tiny_tokenizer, tiny_llama_config
from engine.training.batches import collate, model_inputs
from engine.training.data import IGNORE, Example, encode
from engine.training.packing import PAD, PackConfig, group_by_story, pack_story, tree_attention_mask

PREMISE = "tom had a flat tire."
STORY = ("he walked home.", "his friend had a car.", "they went to the store.", "tom bought a new tire.")


def story_examples(story: int = 0) -> list[Example]:
    out = []
    for i, target in enumerate(STORY):
        facts = ("a tire is on a car.",) if i % 2 else ()
        out.append(Example("sentence", PREMISE, STORY[:i], ("tire",) if i else ("home",), facts, target, story))
        if i == 2:
            out.append(Example("keywords", PREMISE, STORY[:i], (), (), "store", story))
    return out


@pytest.fixture(scope="module")
def tiny():
    from transformers import LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(len(tokenizer)))
    model.eval()
    return model, tokenizer


def branch_spans(packed) -> dict[int, tuple[int, int]]:
    spans: dict[int, list[int]] = {}
    for position, segment in enumerate(packed.segments):
        if segment > 0:
            spans.setdefault(segment, []).append(position)
    return {s: (p[0], p[-1] + 1) for s, p in spans.items()}


def test_each_branch_gives_the_logits_of_its_example_built_alone(tiny):
    model, tokenizer = tiny
    examples = story_examples()
    packed = pack_story(tokenizer, examples, config=PackConfig())
    spans = branch_spans(packed)
    assert len(spans) == len(examples)  # every example became a branch
    batch = collate([packed], tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(**model_inputs(batch, torch.float32)).logits[0]  # (T, V)
    for number, example in enumerate(examples, start=1):
        alone = encode(tokenizer, example, max_tokens=192)
        with torch.no_grad():
            expected = model(input_ids=torch.tensor([alone.input_ids])).logits[0]  # (T_alone, V)
        start, end = spans[number]
        # The branch is the tail of the standalone example: same tokens, same predictions.
        assert packed.input_ids[start:end] == alone.input_ids[-(end - start):]
        assert packed.labels[start:end] == alone.labels[-(end - start):]
        torch.testing.assert_close(logits[start:end], expected[-(end - start):], rtol=1e-4, atol=1e-4)


def test_branches_never_see_each_other_and_padding_sees_itself():
    segments = torch.tensor([[0, 0, 0, 1, 1, 2, 2, PAD]])  # (B, T)
    limits = torch.tensor([[1, 2, 3, 2, 2, 3, 3, 0]])
    mask = tree_attention_mask(segments, limits)[0, 0]  # (T, T)
    assert mask[4].tolist() == [True, True, False, True, True, False, False, False]  # branch 1: trunk to its cut
    assert mask[6].tolist() == [True, True, True, False, False, True, True, False]  # branch 2 sees not branch 1
    assert mask[2].tolist() == [True, True, True, False, False, False, False, False]  # the trunk is causal
    assert mask[7].tolist() == [False] * 7 + [True]


def test_only_sentence_tokens_carry_loss(tiny):
    _, tokenizer = tiny
    packed = pack_story(tokenizer, story_examples(), config=PackConfig())
    learned = [i for i, label in enumerate(packed.labels) if label != IGNORE]
    text = tokenizer.decode([packed.input_ids[i] for i in learned if packed.segments[i] == 0]).replace("<unk>", " ")
    assert "flat" not in text and text.split() == " ".join(STORY).split()  # the premise is context only
    prompts = tokenizer.decode([t for t, l, s in zip(packed.input_ids, packed.labels, packed.segments) if s > 0 and l == IGNORE])
    assert "Keywords" in prompts.replace("<unk>", " ")  # instructions are never learned
    assert all(packed.weights[i] == 0.0 for i in range(len(packed.labels)) if packed.labels[i] == IGNORE)
    without_story = pack_story(tokenizer, story_examples(), config=PackConfig(story_weight=0.0))
    assert all(w == 0.0 for w, s in zip(without_story.weights, without_story.segments) if s == 0)


def test_a_story_that_does_not_fit_keeps_the_branches_that_do(tiny):
    _, tokenizer = tiny
    full = pack_story(tokenizer, story_examples(), config=PackConfig())
    short = pack_story(tokenizer, story_examples(), config=PackConfig(max_tokens=len(full.input_ids) - 5))
    assert len(short.input_ids) <= len(full.input_ids) - 5
    assert 0 < max(short.segments) < max(full.segments)


def test_group_by_story_keeps_stories_apart():
    examples = story_examples(0) + story_examples(1)
    groups = group_by_story(examples)
    assert [len(g) for g in groups] == [5, 5] and {e.story for e in groups[1]} == {1}

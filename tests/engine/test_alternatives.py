"""Token alternatives recorded during generation, and sentences continued from a chosen token."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.alternatives import TokenChoice, token_choices
from engine.types import SamplingParams, StoryContext

CONTEXT = StoryContext("Tom let his friend borrow his phone.", ("The battery died.",))
PARAMS = SamplingParams(seed=3, max_new_tokens=12, temperature=0.9, keyword_strength=0.0)


def generate(generator, params=PARAMS, **kwargs):
    generator.prefix_caches.clear()
    return generator.generate(context=CONTEXT, keywords=[], facts=[], params=params, **kwargs)


def test_each_written_token_is_recorded_with_its_probability_and_runners_up(tiny_generator):
    result = generate(tiny_generator, replace(PARAMS, alternatives=4, n_candidates=2))
    assert len(result.tokens) == 2
    for row in result.tokens:
        assert row and all(isinstance(t, TokenChoice) for t in row)
        for choice in row:
            probs = [a.prob for a in choice.alternatives]
            assert len(choice.alternatives) == 4 and probs == sorted(probs, reverse=True)
            assert choice.token_id not in {a.token_id for a in choice.alternatives}
            assert 0 < choice.prob <= 1 and choice.prob + sum(probs) <= 1 + 1e-5
            assert choice.text == tiny_generator.tokenizer.decode([choice.token_id])
        assert TokenChoice.from_dict(row[0].to_dict()).token_id == row[0].token_id


def test_the_recorded_tokens_spell_the_sentence(tiny_generator):
    result = generate(tiny_generator)
    ids = [t.token_id for t in result.tokens[0]]
    spelled = tiny_generator.tokenizer.decode(ids).strip()
    words = result.candidates[0].rstrip(".!?").split()
    assert spelled.lower().startswith(" ".join(words[:2]).lower())


def test_greedy_writes_the_likeliest_token(tiny_generator):
    result = generate(tiny_generator, replace(PARAMS, temperature=0.0))
    for choice in result.tokens[0]:
        assert all(choice.prob >= a.prob - 1e-6 for a in choice.alternatives)


def test_alternatives_can_be_turned_off(tiny_generator):
    assert generate(tiny_generator, replace(PARAMS, alternatives=0)).tokens == [[]]


def test_a_sentence_continued_from_a_chosen_token_starts_with_it(tiny_generator):
    first = generate(tiny_generator)
    tokens = first.tokens[0]
    alternative = tokens[1].alternatives[0]
    prefix = [tokens[0].token_id, alternative.token_id]
    again = generate(tiny_generator, prefix_tokens=prefix)
    written = [t.token_id for t in again.tokens[0]]
    assert written[:2] == prefix
    assert again.tokens[0][1].prob == alternative.prob or abs(again.tokens[0][1].prob - alternative.prob) < 1e-4
    spelled = tiny_generator.tokenizer.decode(prefix).strip()
    assert again.candidates[0].lower().startswith(spelled.lower()[:3])


def test_token_choices_on_known_logits():
    class Letters:
        def decode(self, ids):
            return "".join("abcd"[i] for i in ids)

    logits = torch.log(torch.tensor([[0.1, 0.6, 0.2, 0.1]]))  # (A=1, V=4)
    (choice,) = token_choices(logits, torch.tensor([2]), temperature=1.0, k=2, tokenizer=Letters())
    assert choice.text == "c" and abs(choice.prob - 0.2) < 1e-6
    assert [(a.text, round(a.prob, 6)) for a in choice.alternatives] == [("b", 0.6), ("a", 0.1)]

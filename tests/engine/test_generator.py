"""The conditional generator on a tiny random Llama: streaming, seeds, batching, limits,
story-prefix KV reuse and the keyword-guidance logits processor."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch
from transformers import DynamicCache

from engine.decode import CandidateDelta
from engine.generator import GenerationResult, Generator, GeneratorConfig
from engine.guidance import KeywordGuide
from engine.inflect import mentions
from engine.kvcache import PrefixCache, forward_tokens
from engine.sampling import apply_repetition_penalty, choose_tokens
from engine.sentence import clean_sentence
from engine.types import SamplingParams, StoryContext
from engine.vocab import vocab_info

CONTEXT = StoryContext("Tom let his friend borrow his phone.", ("The battery died.",))
FACTS = ["A phone has a battery."]
PARAMS = SamplingParams(max_new_tokens=16, seed=0)
ARTEFACTS = ("<s>", "</s>", "<unk>", "<pad>", "<|", "|>", "Next sentence", "Facts:", "\n")
# A sentence end followed by more text: ". Then" inside a candidate means two sentences.
INNER_END = re.compile(r"[A-Za-z0-9][.!?]+[\"')]?\s+\S")


def run_stream(generator: Generator, params: SamplingParams, keywords=("battery",)):
    """(joined stream text per row, the GenerationResult) of one `stream` call."""
    texts: dict[int, str] = {}
    result = None
    for item in generator.stream(context=CONTEXT, keywords=list(keywords), facts=FACTS, params=params):
        if isinstance(item, CandidateDelta):
            texts[item.row] = texts.get(item.row, "") + item.text
        else:
            result = item
    assert isinstance(result, GenerationResult)
    return texts, result


def count_forward_calls(generator: Generator) -> list[tuple[int, ...]]:
    """Wrap the generator's one-token forward; returns the list of input shapes it sees."""
    shapes: list[tuple[int, ...]] = []
    inner = generator._forward

    def counting(ids, cache):
        shapes.append(tuple(ids.shape))
        return inner(ids, cache)

    generator._forward = counting
    return shapes


# --------------------------------------------------------------------------- streaming and seeds


def test_stream_chunks_join_to_the_generated_candidates(tiny_generator):
    params = replace(PARAMS, n_candidates=3)
    texts, streamed = run_stream(tiny_generator, params)
    tiny_generator.prefix_caches.clear()
    collected = tiny_generator.generate(context=CONTEXT, keywords=["battery"], facts=FACTS, params=params)
    assert collected.candidates == streamed.candidates
    assert sorted(texts) == [0, 1, 2]
    for row, candidate in enumerate(streamed.candidates):
        # The final sentence is the streamed text, only tidied (capital, closing stop, no cut word).
        tidied = {clean_sentence(texts[row], complete_last_word=flag) for flag in (True, False)}
        assert candidate in tidied


def test_same_seed_same_output_and_seeds_differ(tiny_generator):
    def sample(seed: int) -> list[str]:
        return tiny_generator.generate(
            context=CONTEXT, keywords=["battery"], facts=FACTS, params=replace(PARAMS, seed=seed)
        ).candidates

    first = sample(7)
    assert sample(7) == first
    assert len({tuple(sample(seed)) for seed in range(4)}) > 1


def test_no_seed_draws_one_and_reports_it(tiny_generator):
    result = tiny_generator.generate(context=CONTEXT, keywords=[], facts=[], params=replace(PARAMS, seed=None))
    again = tiny_generator.generate(context=CONTEXT, keywords=[], facts=[], params=replace(PARAMS, seed=result.seed))
    assert again.candidates == result.candidates


# --------------------------------------------------------------------------- candidates and limits


def test_n_candidates_in_one_batched_call_each_one_clean_sentence(tiny_generator):
    shapes = count_forward_calls(tiny_generator)
    result = tiny_generator.generate(
        context=CONTEXT, keywords=["battery"], facts=FACTS, params=replace(PARAMS, n_candidates=4, max_new_tokens=24)
    )
    assert len(result.candidates) == 4
    assert shapes and shapes[0] == (4, 1)  # every row decoded in the same forward pass
    for candidate in result.candidates:
        assert candidate.strip() and candidate == candidate.strip()
        assert candidate[0].isupper() or not candidate[0].isalpha()
        assert re.search(r"[.!?][\"')\]]?$", candidate), candidate
        assert not INNER_END.search(candidate), candidate
        assert not any(a in candidate for a in ARTEFACTS), candidate


@pytest.mark.parametrize("max_new_tokens", [4, 9])
def test_max_new_tokens_is_respected(tiny_generator, max_new_tokens):
    shapes = count_forward_calls(tiny_generator)
    params = replace(PARAMS, n_candidates=2, max_new_tokens=max_new_tokens)
    result = tiny_generator.generate(context=CONTEXT, keywords=["battery"], facts=FACTS, params=params)
    # The prefill gives the first token's logits; each later forward feeds one new token
    # (the last one only peeks whether the final word was cut).
    assert len(shapes) <= max_new_tokens
    assert 0 < result.new_tokens <= 2 * max_new_tokens
    assert all(c for c in result.candidates)


def test_timings_and_notes_are_reported(tiny_generator):
    result = tiny_generator.generate(context=CONTEXT, keywords=["battery"], facts=FACTS, params=PARAMS)
    assert set(result.timings_ms) == {"prefill", "decode"}
    assert all(v >= 0 for v in result.timings_ms.values())
    assert result.notes == []  # nothing was clipped
    assert len(result.keywords_missing) == 1


def test_generator_presets():
    assert GeneratorConfig.from_name("tiny").max_context_tokens < GeneratorConfig.from_name("default").max_context_tokens
    with pytest.raises(ValueError, match="unknown generator preset"):
        GeneratorConfig.from_name("huge")


# --------------------------------------------------------------------------- story-prefix KV reuse


def full_prefill(model, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return forward_tokens(model, ids, DynamicCache(config=model.config))


def test_prefix_cache_reuse_matches_a_full_prefill(tiny_model):
    model, tokenizer = tiny_model
    enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    story, sentence, suffix = enc("tom went to the store."), enc(" his car had a flat tire."), enc("\nnext:")
    cache = PrefixCache()
    with torch.inference_mode():
        cache.start(model, story, suffix, rows=1)
        _, logits = cache.start(model, story + sentence, suffix, rows=3)
    assert cache.reused_tokens == len(story)
    assert logits.shape == (3, model.config.vocab_size)
    expected = full_prefill(model, story + sentence + suffix)
    for row in range(3):
        torch.testing.assert_close(logits[row : row + 1], expected, rtol=1e-4, atol=1e-4)


def test_prefix_cache_crops_an_edited_story(tiny_model):
    model, tokenizer = tiny_model
    enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    start, old, new, suffix = enc("tom went home."), enc(" the dog ran."), enc(" a cat was sad."), enc("\nnext:")
    cache = PrefixCache()
    with torch.inference_mode():
        cache.start(model, start + old, suffix, rows=1)
        _, logits = cache.start(model, start + new, suffix, rows=1)
    assert len(start) <= cache.reused_tokens < len(start + old)
    torch.testing.assert_close(logits, full_prefill(model, start + new + suffix), rtol=1e-4, atol=1e-4)


def test_reusing_the_prefix_gives_the_same_sentence(tiny_model):
    model, tokenizer = tiny_model
    reuse = Generator(model, tokenizer, "tiny", GeneratorConfig.from_name("tiny"))
    fresh = Generator(model, tokenizer, "tiny", replace(GeneratorConfig.from_name("tiny"), reuse_prefix=False))
    context = StoryContext("Tom let his friend borrow his phone.")
    for _ in range(3):
        kwargs = dict(context=context, keywords=["phone"], facts=[], params=replace(PARAMS, n_candidates=2))
        a, b = reuse.generate(**kwargs), fresh.generate(**kwargs)
        assert a.candidates == b.candidates
        assert b.reused_prefix_tokens == 0
        context = context.extend(a.candidates[0])
    assert a.reused_prefix_tokens > 0


# --------------------------------------------------------------------------- keyword guidance


@pytest.fixture
def guide_parts(tiny_model):
    _, tokenizer = tiny_model
    vocab = vocab_info(tokenizer)
    ends = list(vocab.terminal + vocab.end_of_text)
    return tokenizer, ends


def keyword_probability(logits: torch.Tensor, token: int) -> float:
    return float(torch.softmax(logits, dim=-1)[0, token])


@pytest.mark.parametrize("strength", [0.0, 1.0, 4.0])
def test_guidance_raises_the_keyword_token_probability(guide_parts, strength):
    tokenizer, ends = guide_parts
    vocab_size = len(tokenizer)
    first = tokenizer("Battery", add_special_tokens=False)["input_ids"][0]
    base = torch.randn(1, vocab_size, generator=torch.Generator().manual_seed(0))  # (1, V)
    guide = KeywordGuide.build(tokenizer, ["battery"], strength, ends, rows=1)
    out = guide.bias_rows(base.clone(), [[]], [0], step=0, room=20)
    before, after = keyword_probability(base, first), keyword_probability(out, first)
    if strength == 0:
        torch.testing.assert_close(out, base)
    else:
        assert after > before
    # Later steps push harder while the keyword is still missing.
    later = guide.bias_rows(base.clone(), [[]], [0], step=6, room=20)
    assert keyword_probability(later, first) >= after


def test_guidance_completes_a_begun_keyword_and_holds_back_sentence_ends(guide_parts):
    tokenizer, ends = guide_parts
    spelled = tokenizer("Battery", add_special_tokens=False)["input_ids"]
    assert len(spelled) > 2  # a multi-token keyword in this tokenizer
    base = torch.zeros(1, len(tokenizer))
    guide = KeywordGuide.build(tokenizer, ["battery"], 2.0, ends, rows=1)
    out = guide.bias_rows(base.clone(), [spelled[:2]], [0], step=2, room=20)
    assert int(out[0].argmax()) == spelled[2]  # the next piece of the keyword is favoured
    assert torch.isinf(out[0, ends]).all()  # no sentence end while the keyword is missing
    near_limit = guide.bias_rows(base.clone(), [spelled[:2]], [0], step=18, room=2)
    assert not torch.isinf(near_limit[0, ends]).any()  # ...unless the token limit is near


def test_guidance_stops_once_the_keyword_or_an_inflection_appears(guide_parts):
    tokenizer, ends = guide_parts
    guide = KeywordGuide.build(tokenizer, ["battery", "die"], 4.0, ends, rows=2)
    guide.update(0, "Tom's phone died")
    assert guide.missing(0) == ["battery"] and guide.missing(1) == ["battery", "die"]
    guide.update(0, "Tom's phone died and its batteries were flat")
    assert guide.missing(0) == []
    base = torch.zeros(1, len(tokenizer))
    torch.testing.assert_close(guide.bias_rows(base.clone(), [[5]], [0], step=3, room=20), base)


@pytest.mark.parametrize("strength", [0.0, 8.0])
def test_generator_reports_missing_keywords_per_row(tiny_generator, strength):
    params = replace(PARAMS, n_candidates=4, keyword_strength=strength)
    result = tiny_generator.generate(context=CONTEXT, keywords=["battery", "tire"], facts=[], params=params)
    assert len(result.keywords_missing) == 4
    for candidate, missing in zip(result.candidates, result.keywords_missing, strict=True):
        assert missing == [k for k in ("battery", "tire") if not mentions(candidate, k)]


# --------------------------------------------------------------------------- sampling


def test_repetition_penalty_only_lowers_seen_tokens():
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0], [1.0, 1.0, -2.0, 0.0]])
    seen = torch.tensor([[True, True, False, False], [False, False, True, False]])
    out = apply_repetition_penalty(logits, seen, 2.0)
    expected = torch.tensor([[1.0, -2.0, 0.5, 3.0], [1.0, 1.0, -4.0, 0.0]])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(logits[0, 0], torch.tensor(2.0))  # the input is left as it was


def test_top_k_top_p_draws_follow_the_renormalised_nucleus():
    logits = torch.log(torch.tensor([[0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.02]]))
    params = SamplingParams(temperature=1.0, top_k=5, top_p=0.75)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([choose_tokens(logits, params, generator) for _ in range(3000)]).flatten()
    # top-k keeps 5 tokens; the nucleus then stops once 0.4 + 0.25 + 0.15 >= 0.75.
    assert set(draws.tolist()) == {0, 1, 2}
    freq = torch.bincount(draws, minlength=3)[:3].float() / len(draws)
    torch.testing.assert_close(freq, torch.tensor([0.5, 0.3125, 0.1875]), atol=0.03, rtol=0)
    assert int(choose_tokens(logits, replace(params, temperature=0.0), generator)) == 0


def test_banned_phrases_are_never_completed():
    from engine.decode import copy_table, phrase_table

    table = phrase_table([[5, 6, 7], [9]], into=copy_table([1, 2, 3, 4]))
    assert table[3] == {(1, 2, 3): {4}}  # the story's 4-gram
    assert table[2] == {(5, 6): {7}}  # a three-token phrase: 7 banned after 5, 6
    assert table[0] == {(): {9}}  # a one-token phrase: banned everywhere

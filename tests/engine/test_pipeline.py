"""The Megatron-CNTRL loop on a tiny random Llama: Step contents, knowledge pins and vetoes,
bad input (empty, huge, emoji, non-English premises; junk keywords) and write_story."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from engine.keyword_predictor import KeywordPredictor
from engine.keywords import KEYWORDS_PER_SENTENCE, clean_keywords
from engine.knowledge.base import FixedRetriever, NullRanker
from engine.pipeline import Pipeline
from engine.prompts import build_prompt
from engine.types import Fact, SamplingParams, ScoredFact, Step, StoryContext

PREMISE = "Tom let his friend borrow his phone."
FACTS = [
    Fact("UsedFor", "battery", "power", "A battery is used for power."),
    Fact("PartOf", "battery", "phone", "A battery is part of a phone."),
    Fact("CapableOf", "battery", "die", "A battery can die."),
    Fact("AtLocation", "tire", "car", "You are likely to find a tire on a car."),
    Fact("IsA", "dog", "animal", "A dog is an animal."),
]
PARAMS = SamplingParams(max_new_tokens=12, seed=3)


@pytest.fixture
def pipeline(tiny_generator) -> Pipeline:
    return Pipeline(
        generator=tiny_generator,
        predictor=KeywordPredictor(tiny_generator),
        retriever=FixedRetriever(FACTS),
        ranker=NullRanker(),
        knowledge_note="fixed test facts",
    )


def fact_texts(step: Step) -> list[str]:
    return [f.fact.sentence for f in step.facts]


# --------------------------------------------------------------------------- the Step


def test_next_step_records_everything_needed_to_explain_and_replay(pipeline):
    params = replace(PARAMS, n_candidates=3)
    step = pipeline.next_step(StoryContext(PREMISE), keywords=["battery"], params=params)
    assert step.keywords == ["battery"] and step.keywords_source == "given"
    assert fact_texts(step) == [f.sentence for f in FACTS if f.head == "battery"]
    scores = [f.score for f in step.facts]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    assert len(step.candidates) == 3 and all(step.candidates)
    assert 0 <= step.chosen < 3 and step.sentence == step.candidates[step.chosen]
    assert step.params == replace(params, seed=3) and step.seed == 3
    assert step.model == "tiny-llama"
    assert {"keywords", "retrieve", "rank", "generate", "generate.prefill", "generate.decode"} <= set(step.timings_ms)
    assert all(v >= 0 for v in step.timings_ms.values())
    data = json.loads(json.dumps(step.to_dict()))
    assert data["facts"][0]["text"] == step.facts[0].fact.sentence and "score" in data["facts"][0]


def test_the_same_seed_replays_the_step(pipeline):
    first = pipeline.next_step(StoryContext(PREMISE), keywords=["battery"], params=PARAMS)
    again = pipeline.next_step(StoryContext(PREMISE), keywords=["battery"], params=PARAMS)
    assert again.candidates == first.candidates


def test_predicted_keywords_are_valid_content_words(pipeline):
    context = StoryContext(PREMISE, ("His friend dropped it in the pool.",))
    step = pipeline.next_step(context, params=PARAMS)
    assert step.keywords_source in {"predicted", "rake-fallback"}
    assert 1 <= len(step.keywords) <= KEYWORDS_PER_SENTENCE
    assert clean_keywords(step.keywords)[0] == step.keywords
    assert step.timings_ms["keywords"] > 0
    assert pipeline.suggest_keywords(context, seed=3) == step.keywords


def test_stream_step_yields_text_then_the_step(pipeline):
    items = list(pipeline.stream_step(StoryContext(PREMISE), keywords="battery, phone", params=PARAMS))
    *chunks, step = items
    assert isinstance(step, Step) and chunks and all(isinstance(c, str) for c in chunks)
    assert step.keywords == ["battery", "phone"]
    streamed_words = "".join(chunks).split()
    assert step.sentence.split()[0].lower() == streamed_words[0].lower()


# --------------------------------------------------------------------------- knowledge


def test_pinned_facts_come_first_and_vetoed_facts_never_appear(pipeline):
    vetoed = "A battery is part of a phone."
    step = pipeline.next_step(
        StoryContext(PREMISE), keywords=["battery"], params=PARAMS,
        pinned=["Phones need charging every day."], vetoed=[vetoed],
    )
    texts = fact_texts(step)
    assert texts[0] == "Phones need charging every day." and step.facts[0].score == 1.0
    assert vetoed not in texts
    assert "A battery can die." in texts


def test_given_facts_skip_retrieval(pipeline):
    given = [ScoredFact(FACTS[4], 0.7), "Dogs like parks."]
    step = pipeline.next_step(StoryContext(PREMISE), keywords=["dog"], facts=given, params=PARAMS)
    assert fact_texts(step) == ["A dog is an animal.", "Dogs like parks."]
    assert [f.score for f in step.facts] == [0.7, 1.0]
    assert "retrieve" not in step.timings_ms


def test_no_knowledge_is_recorded_in_the_notes(pipeline):
    step = pipeline.next_step(StoryContext(PREMISE), keywords=["money"], params=PARAMS)
    assert step.facts == []
    assert any("no knowledge used (fixed test facts)" in n for n in step.notes)


# --------------------------------------------------------------------------- bad premises


@pytest.mark.parametrize("premise", ["", "   ", "\n\t ", "\x00"])
def test_empty_premise_is_refused_with_a_clear_message(pipeline, premise):
    with pytest.raises(ValueError, match="the premise is empty: give a title or a first sentence"):
        pipeline.next_step(StoryContext(premise), keywords=["battery"], params=PARAMS)


def test_a_50000_character_premise_is_kept_and_the_middle_of_the_story_clipped(pipeline):
    premise = ("Tom walked to the store and bought a new phone. " * 1100)[:50_000]
    context = StoryContext(premise, ("The battery died.", "Mary found a charger."))
    assert pipeline.validate_context(context).premise == premise.strip()  # nothing lost before the prompt
    start = time.perf_counter()
    step = pipeline.next_step(context, keywords=["battery"], params=PARAMS)
    assert time.perf_counter() - start < 30
    assert step.sentence
    assert any(n.startswith("context clipped:") and "dropped from the middle" in n for n in step.notes)
    # The prompt keeps the premise's opening and the latest sentences around the cut.
    generator = pipeline.generator
    budget = generator.context_window - PARAMS.max_new_tokens - 1
    prompt = build_prompt(generator.tokenizer, context=context, keywords=["battery"], facts=[], max_prompt_tokens=budget)
    assert len(prompt.ids) <= budget
    # The tiny tokenizer spells a space as <unk>; read it back as one.
    text = generator.tokenizer.decode(prompt.prefix).replace("<unk>", " ")
    assert text.startswith("Tom walked to the store") and text.endswith("Mary found a charger.")
    assert " ..." in text


@pytest.mark.parametrize(
    "premise",
    [
        "Tom 😀 let his friend borrow his phone 📱.",
        "Der Akku von Toms Handy war leer, und es regnete in München.",
        "東京は雨でした。トムは傘を忘れた。",
        "🐶🐱🐭",
    ],
)
def test_emoji_and_non_english_premises_give_a_sentence(pipeline, premise):
    step = pipeline.next_step(StoryContext(premise), params=PARAMS)
    assert step.sentence and step.keywords


# --------------------------------------------------------------------------- bad keywords


@pytest.mark.parametrize(
    "keywords",
    [["the", "and", "of"], ["!!!", "...", ",;:"], ["x" * 500, "battery " * 60], ["🔋", "😀"], "  , ,  "],
)
def test_unusable_keywords_are_dropped_with_a_note_and_predicted_instead(pipeline, keywords):
    step = pipeline.next_step(StoryContext(PREMISE), keywords=keywords, params=PARAMS)
    assert step.sentence
    assert clean_keywords(step.keywords)[0] == step.keywords and step.keywords
    assert step.keywords_source != "given"
    assert "no valid keyword given; predicted instead" in step.notes
    if isinstance(keywords, list):
        assert any(n.startswith("keywords dropped") for n in step.notes)


def test_a_thousand_keywords_are_clipped_to_the_limit(pipeline):
    keywords = [f"word{i}" for i in range(1000)]
    keywords[0], keywords[1] = "battery", "the"
    step = pipeline.next_step(StoryContext(PREMISE), keywords=keywords, params=PARAMS)
    assert step.keywords_source == "given" and step.keywords[0] == "battery"
    assert len(step.keywords) <= KEYWORDS_PER_SENTENCE
    assert any(n.startswith("keywords clipped: 1000 given") for n in step.notes)
    assert any(n.startswith("keywords dropped") for n in step.notes)


def test_mixed_keywords_keep_the_good_ones(pipeline):
    step = pipeline.next_step(StoryContext(PREMISE), keywords="battery, the, !!!, battery", params=PARAMS)
    assert step.keywords == ["battery"] and step.keywords_source == "given"
    assert any(n.startswith("keywords dropped") for n in step.notes)


# --------------------------------------------------------------------------- write_story


def test_write_story_follows_keyword_overrides(pipeline):
    overrides = [["battery"], None, ["tire", "car"]]
    steps = pipeline.write_story(PREMISE, n_sentences=4, keyword_overrides=overrides, params=PARAMS)
    assert len(steps) == 4 and all(s.sentence for s in steps)
    assert steps[0].keywords == ["battery"] and steps[0].keywords_source == "given"
    assert steps[1].keywords_source != "given"
    assert steps[2].keywords == ["tire", "car"] and steps[2].keywords_source == "given"
    assert steps[3].keywords_source != "given"  # past the overrides: predicted
    assert [s.seed for s in steps] == [3, 4, 5, 6]
    again = pipeline.write_story(PREMISE, n_sentences=4, keyword_overrides=overrides, params=PARAMS)
    assert [s.sentence for s in again] == [s.sentence for s in steps]


def test_write_story_reuses_the_story_prefix(pipeline):
    pipeline.write_story(PREMISE, n_sentences=3, keyword_overrides=[["dog"]] * 3, params=PARAMS)
    assert pipeline.generator.prefix_caches["story"].reused_tokens > 0

"""The storyline predictor: the adapter's storyline task when its manifest lists it, the chain of
per-sentence predictions otherwise, RAKE spread over slots without a model; re-planning keeps
what was written; bad input (too many slots, slots in another script, empty slots) is answered."""

from __future__ import annotations

import json

import pytest

from engine.adapters import adapter_knows
from engine.generator import BaseGenerator, GenerationResult
from engine.keyword_predictor import KeywordPredictor
from engine.pipeline import Pipeline, RakePredictor
from engine.prompts import storyline_text
from engine.storyline import (
    MAX_SLOTS,
    StorylinePredictor,
    check_slots,
    clean_slots,
    rake_spread,
    replan,
    storyline_predictor,
)
from engine.testing import build_tiny_tokenizer
from engine.types import StoryContext

PREMISE = "Tom let his friend borrow his phone."
ANSWER = storyline_text([["asked", "wanted"], ["ended"], ["unloading", "realized"], ["delighted"]])


class ScriptedGenerator(BaseGenerator):
    """Answers every prompt with one scripted text; records the prompts' text."""

    backend = "scripted"

    def __init__(self, answer: str, adapter: str | None = None):
        super().__init__(build_tiny_tokenizer(), "scripted", prompt_style="cntrl", adapter=adapter)
        self.answer, self.prompts = answer, []

    def decode(self, prompt, *, params, keywords, seed, cache_name="story", min_words=4, forced=None):
        self.prompts.append(self.tokenizer.decode(prompt.ids).replace("<unk>", " "))  # spaces are unknown here
        yield GenerationResult(candidates=[self.answer] * max(1, params.n_candidates), seed=seed)


def manifest(folder, tasks) -> str:
    (folder / "cntrl-adapter.json").write_text(json.dumps({"prompt_style": "cntrl", "tasks": tasks}))
    return str(folder)


def test_adapter_knows_the_task_only_when_its_manifest_lists_it(tmp_path):
    assert adapter_knows(manifest(tmp_path, ["keywords", "storyline"]), "storyline")
    assert not adapter_knows(manifest(tmp_path, ["keywords"]), "storyline")
    assert not adapter_knows(tmp_path / "missing", "storyline")
    (tmp_path / "cntrl-adapter.json").write_text("{broken")
    assert not adapter_knows(tmp_path, "storyline")


def test_an_adapter_that_learned_the_storyline_answers_in_one_decode(tmp_path):
    gen = ScriptedGenerator(ANSWER, adapter=manifest(tmp_path, ["storyline"]))
    plan = StorylinePredictor(gen).predict(StoryContext(PREMISE), 4, seed=5)
    assert plan.source == "storyline" and plan.seed == 5 and plan.raw == ANSWER
    assert plan.slots == [["asked", "wanted"], ["ended"], ["unloading", "realized"], ["delighted"]]
    assert len(gen.prompts) == 1 and gen.prompts[0].endswith("Storyline of the next 4 sentences:")


def test_without_the_task_the_per_sentence_predictor_chains_over_placeholders(tmp_path):
    gen = ScriptedGenerator("battery, charger", adapter=manifest(tmp_path, ["keywords"]))
    plan = StorylinePredictor(gen).predict(StoryContext(PREMISE), 3, seed=1)
    assert plan.source == "chain" and len(gen.prompts) == 3
    assert all(slot == ["battery", "charger"] for slot in plan.slots)
    assert "battery, charger." in gen.prompts[2]  # earlier slots are shown as placeholder sentences


def test_slots_the_adapter_leaves_empty_are_filled_by_the_chain(tmp_path):
    gen = ScriptedGenerator("asked | | ended", adapter=manifest(tmp_path, ["storyline"]))
    plan = StorylinePredictor(gen).predict(StoryContext(PREMISE), 4, seed=1)
    assert plan.slots[0] == ["asked"] and plan.slots[2] == ["ended"]
    assert all(plan.slots) and len(gen.prompts) == 3  # one storyline answer, two slots chained


def test_the_chain_on_a_tiny_real_model_gives_every_slot_a_keyword(tiny_generator):
    plan = StorylinePredictor(tiny_generator).predict(StoryContext(PREMISE), 4, seed=2)
    assert plan.source == "chain" and len(plan.slots) == 4 and all(plan.slots)
    again = StorylinePredictor(tiny_generator).predict(StoryContext(PREMISE), 4, seed=2)
    assert again.slots == plan.slots  # deterministic for a seed


def test_replan_keeps_the_first_slots_and_the_written_sentences(tmp_path):
    gen = ScriptedGenerator(ANSWER, adapter=manifest(tmp_path, ["storyline"]))
    context = StoryContext(PREMISE, ("He asked for it back.",))
    plan = replan(StorylinePredictor(gen), context, [["mine"], ["kept"], ["old"], ["older"]], keep=1, seed=3)
    assert plan.slots[0] == ["mine"] and plan.slots[1:] == [["asked", "wanted"], ["ended"], ["unloading", "realized"]]
    assert "He asked for it back. mine." in gen.prompts[0]
    assert gen.prompts[0].endswith("Storyline of the next 3 sentences:")
    with pytest.raises(ValueError, match="re-plan from a slot between 1 and 5"):
        replan(StorylinePredictor(gen), context, [["a"]] * 4, keep=7)


def test_rake_spread_needs_no_model_and_leaves_slots_past_the_premise_empty():
    assert rake_spread("Tom let his friend borrow his phone.", 5)[:2] != [[], []]
    plan = storyline_predictor(None, RakePredictor()).predict(StoryContext("The Phone"), 3, seed=0)
    assert plan.source == "rake-spread" and plan.slots == [["phone"], [], []]
    assert "empty slots are predicted when their sentence is written" in plan.notes


def test_too_many_slots_are_refused_with_the_limit():
    assert check_slots(4) == 4
    with pytest.raises(ValueError, match=f"plan at most {MAX_SLOTS} sentences"):
        check_slots(MAX_SLOTS + 1)
    with pytest.raises(ValueError, match="plan at most 8 sentences"):
        check_slots(10, context_window=128)
    with pytest.raises(ValueError, match="plan 1 to"):
        check_slots(0)


def test_clean_slots_keeps_other_scripts_with_a_note_and_drops_junk():
    slots, notes = clean_slots([["Москва"], ["the", "phone"], [], "rain, ???"], story=PREMISE)
    assert slots == [["Москва"], ["phone"], [], ["rain"]]
    assert any("slot 1: Москва in another script" in n for n in notes)
    assert any(n.startswith("slot 2: 'the' dropped") for n in notes)


def test_the_pipeline_plans_with_its_own_predictor(tiny_generator):
    pipeline = Pipeline(generator=tiny_generator, predictor=KeywordPredictor(tiny_generator))
    plan = pipeline.plan_storyline(StoryContext(PREMISE), 2, seed=4)
    assert plan.source == "chain" and len(plan.slots) == 2
    rake = Pipeline(generator=tiny_generator, predictor=RakePredictor())
    assert rake.plan_storyline(StoryContext(PREMISE), 2, seed=4).source == "rake-spread"

"""Storyline overlap on hand-made plans with known answers."""

from __future__ import annotations

from engine.evaluation.storyline_metric import set_hits, slot_hits, storyline_overlap

GOLD = ["asked", "ended", "realized", "delighted"]


def test_per_slot_needs_the_same_sentence_and_the_set_any_sentence():
    plan = [["asks", "phone"], ["realized"], ["end"], []]
    assert slot_hits(plan, GOLD) == [True, False, False, False]
    assert set_hits(plan, GOLD) == [True, True, True, False]


def test_a_short_plan_misses_the_slots_it_lacks():
    assert slot_hits([["asked"]], GOLD) == [True, False, False, False]


def test_overlap_pools_over_stories():
    got = storyline_overlap([[["asked"], ["ended"], ["x"], ["y"]], [["no"], ["no"], ["no"], ["delight"]]], [GOLD, GOLD])
    assert got.slot == 3 / 8 and got.set == 3 / 8 and got.keywords_per_slot == 1.0 and got.stories == 2
    assert storyline_overlap([], []) is None


def test_a_static_system_writes_to_its_plan_and_is_measured_on_it(tiny_generator):
    from engine.evaluation.cases import Case
    from engine.evaluation.harness import (
        STORY_SENTENCES,
        SystemRun,
        rake_row,
        storyline_row,
        write_story,
    )
    from engine.evaluation.systems import System, system_spec
    from engine.keyword_predictor import KeywordPredictor
    from engine.pipeline import Pipeline
    from engine.training.text import Story
    from engine.types import SamplingParams, StoryContext

    spec = system_spec("trained-static")
    assert spec.static and spec.trained and not system_spec("trained").static
    pipeline = Pipeline(generator=tiny_generator, predictor=KeywordPredictor(tiny_generator))
    story = Story(("Tom let his friend borrow his phone.", "A.", "B.", "C.", "D."),
                  ("phone", "asked", "ended", "realized", "delighted"))
    case, params = Case(story, 1), SamplingParams(max_new_tokens=8, seed=3)
    run = SystemRun(spec.name)
    write_story(System(spec, pipeline), case, params, run)
    plan = pipeline.plan_storyline(StoryContext(case.premise), STORY_SENTENCES, seed=3)
    assert run.keywords[0] == plan.slots and len(run.stories[0]) == STORY_SENTENCES
    row = storyline_row(run.keywords, [case])
    assert set(row) == {"storyline_slot", "storyline_set"} and 0 <= row["storyline_slot"] <= row["storyline_set"] <= 1
    assert rake_row([case])["storyline_slot"] is not None


def test_the_storyline_metrics_are_columns_of_the_report():
    from engine.evaluation.harness import METRICS

    assert {"storyline_slot", "storyline_set"} <= set(METRICS)

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

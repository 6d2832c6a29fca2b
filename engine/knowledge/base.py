"""The knowledge stage's interface: retrievers and rankers, chosen by name.

A retriever turns keywords into candidate facts; a ranker orders facts against the
story so far. Both are plain objects with one main method, registered in a dict so
tests and ablations can swap them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from engine.types import Fact, ScoredFact


class Retriever(Protocol):
    def retrieve(self, keywords: list[str], limit: int = 50) -> list[Fact]: ...


class Ranker(Protocol):
    def rank(self, context: str, facts: list[Fact], top_n: int = 5) -> list[ScoredFact]: ...


class NullRetriever:
    """Retrieves nothing: the pipeline writes without knowledge."""

    def retrieve(self, keywords: list[str], limit: int = 50) -> list[Fact]:
        return []


class FixedRetriever:
    """Returns a fixed list of facts whose head or tail mentions a keyword (tests, demos)."""

    def __init__(self, facts: list[Fact]):
        self.facts = list(facts)

    def retrieve(self, keywords: list[str], limit: int = 50) -> list[Fact]:
        wanted = {k.lower() for k in keywords}
        hits = [f for f in self.facts if f.head.lower() in wanted or f.tail.lower() in wanted]
        return hits[:limit]


class NullRanker:
    """Keeps the retriever's order; scores fall from 1 by position."""

    def rank(self, context: str, facts: list[Fact], top_n: int = 5) -> list[ScoredFact]:
        return [ScoredFact(f, 1.0 / (i + 1)) for i, f in enumerate(facts[:top_n])]


class LexicalRanker:
    """Orders facts by the content lemmas they share with the context (ties: the retriever's order).

    No model: thousands of contexts a second, so training data for a whole corpus can be
    ranked in minutes. Scores are the shared lemmas over the fact's lemmas.
    """

    def rank(self, context: str, facts: list[Fact], top_n: int = 5) -> list[ScoredFact]:
        return self.rank_many([(context, facts)], top_n=top_n)[0]

    def rank_many(self, pairs: list[tuple[str, list[Fact]]], top_n: int = 5) -> list[list[ScoredFact]]:
        from engine.knowledge.lemmas import content_lemmas

        out = []
        for context, facts in pairs:
            seen = content_lemmas(context)
            scored = []
            for fact in facts:
                own = content_lemmas(fact.sentence)
                scored.append(ScoredFact(fact, len(own & seen) / len(own) if own else 0.0))
            scored.sort(key=lambda sf: sf.score, reverse=True)  # stable: ties keep the retriever's order
            out.append(scored[: max(top_n, 0)])
        return out


def _store_retriever(**kwargs) -> Retriever:
    """The SQLite knowledge-store retriever (imported on first use)."""
    from engine.knowledge.retrieve import StoreRetriever

    return StoreRetriever(**kwargs)


def _embedding_ranker(**kwargs) -> Ranker:
    """The sentence-embedding ranker (imports torch on first use)."""
    from engine.knowledge.rank import EmbeddingRanker

    return EmbeddingRanker(**kwargs)


RETRIEVERS: dict[str, Callable[..., Retriever]] = {
    "null": NullRetriever,
    "fixed": FixedRetriever,
    "store": _store_retriever,
}
RANKERS: dict[str, Callable[..., Ranker]] = {
    "null": NullRanker,
    "lexical": LexicalRanker,
    "embedding": _embedding_ranker,
}


def make_retriever(name: str, **kwargs) -> Retriever:
    """Build a registered retriever by name."""
    if name not in RETRIEVERS:
        raise ValueError(f"unknown retriever {name!r}; choose from {', '.join(RETRIEVERS)}")
    return RETRIEVERS[name](**kwargs)


def make_ranker(name: str, **kwargs) -> Ranker:
    """Build a registered ranker by name."""
    if name not in RANKERS:
        raise ValueError(f"unknown ranker {name!r}; choose from {', '.join(RANKERS)}")
    return RANKERS[name](**kwargs)

"""The Megatron-CNTRL loop: keywords -> knowledge -> ranking -> sentence.

Each stage is an object with one main method (`predict`, `retrieve`, `rank`,
`stream`), so tests and ablations swap them. `Pipeline.stream_step` yields text
deltas of the chosen candidate and ends with the Step; `next_step` collects it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine import bible
from engine.decode import CandidateDelta
from engine.generator import GenerationResult, Generator, resolve_seed
from engine.keyword_predictor import KeywordPrediction, KeywordPredictor
from engine.keywords import (
    KEYWORDS_PER_SENTENCE,
    MAX_RAW_KEYWORDS,
    clean_keywords,
    extract_keywords,
)
from engine.knowledge.base import NullRanker, NullRetriever, Ranker, Retriever
from engine.storyline import Storyline, storyline_predictor
from engine.types import Fact, SamplingParams, ScoredFact, Step, StoryContext


class RakePredictor:
    """Keywords of the latest sentence (no model): an ablation and a cheap fallback."""

    def predict(self, context: StoryContext, seed: int | None = None) -> KeywordPrediction:
        last = context.sentences[-1] if context.sentences else context.premise
        kws = extract_keywords(last, top_k=2, single_words=True) or ["day"]
        return KeywordPrediction(kws, last, "rake", resolve_seed(seed))


@dataclass
class Pipeline:
    """Composes the four stages; `knowledge_note` describes the knowledge base in use."""

    generator: Generator
    predictor: KeywordPredictor | RakePredictor
    retriever: Retriever = field(default_factory=NullRetriever)
    ranker: Ranker = field(default_factory=NullRanker)
    knowledge_note: str = "no knowledge base"
    retrieve_limit: int = 50
    reranker: object | None = None  # engine.coherence.CoherenceReranker: chooses among the candidates

    @property
    def model_id(self) -> str:
        """The model that writes: the base model's id, plus the trained adapter's name when one is applied."""
        adapter = getattr(self.generator, "adapter", None)
        return f"{self.generator.model_id} + {Path(adapter).name}" if adapter else self.generator.model_id

    def validate_context(self, context: StoryContext) -> StoryContext:
        """Refuse an empty premise; strip NUL bytes; clip absurd lengths (StoryContext.validated)."""
        return context.validated()

    def suggest_keywords(self, context: StoryContext, seed: int | None = None) -> list[str]:
        """The predictor's keywords for the sentence after `context`."""
        return self.predictor.predict(self.validate_context(context), seed=seed).keywords

    def plan_storyline(self, context: StoryContext, count: int = 4, *, kept=(), seed: int | None = None) -> Storyline:
        """The keywords of the `count` sentences after `context` at once, the first `kept` slots as given."""
        return storyline_predictor(self.generator, self.predictor).predict(self.validate_context(context), count,
                                                                            kept=kept, seed=seed)

    def choose_keywords(self, context: StoryContext, keywords, seed: int, notes: list[str]) -> tuple[list[str], str]:
        """Given keywords (validated) or predicted ones, and where they came from."""
        if keywords:
            raw = keywords.split(",") if isinstance(keywords, str) else list(keywords)
            if len(raw) > MAX_RAW_KEYWORDS:
                notes.append(f"keywords clipped: {len(raw)} given, first {MAX_RAW_KEYWORDS} considered")
            kept, dropped = clean_keywords(raw[:MAX_RAW_KEYWORDS], limit=KEYWORDS_PER_SENTENCE)
            if dropped:
                notes.append("keywords dropped (stop words, punctuation, too long or past "
                             f"{KEYWORDS_PER_SENTENCE}): {len(dropped)}")
            if kept:
                return kept, "given"
            notes.append("no valid keyword given; predicted instead")
        prediction = self.predictor.predict(context, seed=seed)
        return prediction.keywords, "predicted" if prediction.source == "model" else prediction.source

    def choose_facts(self, context: StoryContext, keywords: list[str], facts, pinned, vetoed, top_n: int, timings,
                     notes: list[str] | None = None) -> list[ScoredFact]:
        """Retrieve and rank (the story bible's triggered entries beside the knowledge), or take the given
        facts; pinned first, then bible entries flagged always, then up to `bible.reserved_slots`
        of the triggered entries in rank order, then the rest by rank; vetoed never."""
        lore = bible.triggered(context.bible, keywords, context)
        if notes is not None:
            notes.extend(lore.notes())
        veto = set(vetoed)
        always: list[ScoredFact] = [ScoredFact(f, 1.0) for f in lore.always]
        if facts is not None:
            ranked = [f if isinstance(f, ScoredFact) else ScoredFact(_as_fact(f), 1.0) for f in facts]
        else:
            t = time.perf_counter()
            found = self.retriever.retrieve(bible.retrievable(context.bible, keywords), limit=self.retrieve_limit)
            timings["retrieve"] = 1000 * (time.perf_counter() - t)
            t = time.perf_counter()
            found = [f for f in [*lore.always, *lore.matched, *found] if f.sentence not in veto]
            ranked = self.ranker.rank(context.text(), found, top_n=len(found)) if found else []
            scores = {f.fact.sentence: f for f in ranked}
            always = [scores.get(f.fact.sentence, f) for f in always]
            keyed = {f.sentence for f in lore.matched}
            # The best-ranked entries the writer's keys called up come before retrieved facts.
            ranked = [f for f in ranked if f.fact.sentence in keyed][: bible.reserved_slots(top_n)] \
                + ranked[: 2 * top_n + len(lore.always)]
            timings["rank"] = 1000 * (time.perf_counter() - t)
        pins = [ScoredFact(f, 1.0) for f in bible.pinned_facts(context.bible, pinned)]
        return bible.combine(pins, always, ranked, veto, top_n)

    def stream_step(
        self,
        context: StoryContext,
        *,
        keywords: Iterable[str] | str | None = None,
        facts: list[ScoredFact | Fact | str] | None = None,
        pinned: Iterable[str] = (),
        vetoed: Iterable[str] = (),
        params: SamplingParams | None = None,
        prefix_tokens: list[int] | None = None,
    ) -> Iterator[str | Step]:
        """Stream one sentence: text deltas of the first candidate, then the Step.

        Args:
            context: premise and sentences so far.
            keywords: control keywords (list or comma-separated); None/empty: predicted.
            facts: knowledge to use as is (skips retrieval and ranking); None: retrieved.
            pinned: fact sentences always included; vetoed: fact sentences never used.
            params: sampling settings; the Step records the seed actually used.
            prefix_tokens: token ids the sentence starts with (continuing from a chosen token).
        """
        params = params or SamplingParams()
        context = self.validate_context(context)
        seed = resolve_seed(params.seed)
        params = replace(params, seed=seed)
        notes: list[str] = []
        timings: dict[str, float] = {}
        t = time.perf_counter()
        kws, source = self.choose_keywords(context, keywords, seed, notes)
        timings["keywords"] = 1000 * (time.perf_counter() - t) if source != "given" else 0.0
        ranked = self.choose_facts(context, kws, facts, list(pinned), list(vetoed), params.knowledge_top_n, timings,
                                   notes)
        if not ranked:
            notes.append(f"no knowledge used ({self.knowledge_note})" if facts is None else "no knowledge given")
        result: GenerationResult | None = None
        t = time.perf_counter()
        for item in self.generator.stream(context=context, keywords=kws, facts=[f.fact.sentence for f in ranked],
                                          params=params, prefix_tokens=prefix_tokens):
            if isinstance(item, CandidateDelta):
                if item.row == 0:
                    yield item.text
            else:
                result = item
        timings["generate"] = 1000 * (time.perf_counter() - t)
        timings.update({f"generate.{k}": v for k, v in result.timings_ms.items()})
        chosen, coherence = self.rerank(context, kws, result.candidates, timings)
        yield Step(
            keywords=kws, facts=ranked, candidates=result.candidates, chosen=chosen, coherence=coherence,
            params=params, seed=seed,
            model=self.model_id, timings_ms=timings, keywords_source=source, notes=notes + result.notes,
            adapter=getattr(self.generator, "adapter", None), backend=self.generator.provenance(),
            tokens=result.tokens, steering=context.steering(),
        )

    def rerank(self, context: StoryContext, keywords: list[str], candidates: list[str],
               timings: dict[str, float]) -> tuple[int, list[float]]:
        """(chosen candidate, coherence score of each): the reranker's best among those carrying
        every keyword; without a reranker, the first candidate and no scores."""
        if self.reranker is None or not candidates:
            return 0, []
        from engine.coherence import choose

        t = time.perf_counter()
        scores = self.reranker.score(context.premise, list(context.sentences), candidates)
        timings["rerank"] = 1000 * (time.perf_counter() - t)
        return choose(candidates, scores, keywords), [round(s, 4) for s in scores]

    def next_step(self, context: StoryContext, **kwargs) -> Step:
        """Collect `stream_step`: the Step for the next sentence."""
        step = None
        for item in self.stream_step(context, **kwargs):
            if isinstance(item, Step):
                step = item
        assert step is not None
        return step

    def write_story(
        self, premise: str, *, n_sentences: int, keyword_overrides: list[list[str] | None] | None = None,
        params: SamplingParams | None = None,
    ) -> list[Step]:
        """Write `n_sentences` after `premise`; keyword_overrides[i] steers sentence i (None: predict)."""
        params = params or SamplingParams()
        base_seed = resolve_seed(params.seed)
        context, steps = StoryContext(premise), []
        overrides = list(keyword_overrides or [])
        for i in range(n_sentences):
            kws = overrides[i] if i < len(overrides) else None
            step = self.next_step(context, keywords=kws, params=replace(params, seed=base_seed + i))
            steps.append(step)
            context = self.validate_context(context).extend(step.sentence)
        return steps


def _as_fact(item: Fact | ScoredFact | str) -> Fact:
    if isinstance(item, ScoredFact):
        return item.fact
    if isinstance(item, Fact):
        return item
    return Fact(relation="Given", head="", tail="", sentence=str(item), source="writer")

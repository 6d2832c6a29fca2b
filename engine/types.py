"""Typed records that flow between the engine's stages.

Nothing here imports torch, so storage and the app may import these freely.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.bible import LoreEntry


@dataclass(frozen=True)
class Fact:
    """One piece of knowledge: a triple and the sentence a template made of it."""

    relation: str
    head: str
    tail: str
    sentence: str
    weight: float = 1.0
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoredFact:
    """A fact with the contextual ranker's score (higher is more relevant)."""

    fact: Fact
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.fact.sentence, "score": self.score, **self.fact.to_dict()}


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings for one sentence."""

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    max_new_tokens: int = 40
    n_candidates: int = 1
    keyword_strength: float = 4.0
    knowledge_top_n: int = 5
    seed: int | None = None
    alternatives: int = 5  # runners-up recorded per token (0: none)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SamplingParams:
        """Named presets; keyword arguments override single fields."""
        presets = {
            "balanced": {},
            "precise": {"temperature": 0.3, "top_p": 0.9, "top_k": 20},
            "creative": {"temperature": 1.0, "top_p": 0.98, "top_k": 100},
            "greedy": {"temperature": 0.0},
        }
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Step:
    """Everything needed to explain and reproduce one sentence."""

    keywords: list[str]
    facts: list[ScoredFact]
    candidates: list[str]
    chosen: int
    params: SamplingParams
    seed: int
    model: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    keywords_source: str = "predicted"  # predicted | given
    notes: list[str] = field(default_factory=list)  # clipping, empty knowledge, ...
    adapter: str | None = None  # the trained adapter applied to the model, if any
    backend: dict[str, str] = field(default_factory=dict)  # name, and server URL / served model for vllm
    tokens: list[list[Any]] = field(default_factory=list)  # per candidate: TokenChoice of each token
    steering: dict[str, Any] = field(default_factory=dict)  # memory and author's note (StoryContext.steering)
    coherence: list[float] = field(default_factory=list)  # the reranker's score of each candidate (none: no reranker)

    @property
    def sentence(self) -> str:
        return self.candidates[self.chosen] if self.candidates else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentence": self.sentence,
            "keywords": list(self.keywords),
            "keywords_source": self.keywords_source,
            "facts": [f.to_dict() for f in self.facts],
            "candidates": list(self.candidates),
            "coherence": list(self.coherence),
            "chosen": self.chosen,
            "params": self.params.to_dict(),
            "seed": self.seed,
            "model": self.model,
            "adapter": self.adapter,
            "backend": dict(self.backend),
            "timings_ms": dict(self.timings_ms),
            "notes": list(self.notes),
            "tokens": [[t.to_dict() for t in row] for row in self.tokens],
            "steering": dict(self.steering),
        }


def coherence_summary(scores: list[float], chosen: int | None) -> str:
    """The reranker's scores in candidate order with the chosen one marked, "0.71 (chosen), 0.44";
    empty when no reranker scored the candidates."""
    return ", ".join(f"{float(s):.2f}" + (" (chosen)" if i == chosen else "") for i, s in enumerate(scores))


@dataclass(frozen=True)
class StoryContext:
    """The story so far: premise (title or first sentence) plus later sentences.

    `memory` is placed before the story in every prompt; `authors_note` sits `note_depth`
    sentences before the story's end (0: right after it). Both are the writer's, per story.
    `bible` holds the story bible's entries (engine.bible), drawn on when their keys appear.
    """

    premise: str
    sentences: tuple[str, ...] = ()
    memory: str = ""
    authors_note: str = ""
    note_depth: int = 1
    bible: tuple[LoreEntry, ...] = ()

    def text(self) -> str:
        return " ".join([self.premise, *self.sentences]).strip()

    def extend(self, sentence: str) -> StoryContext:
        return replace(self, sentences=(*self.sentences, sentence))

    def validated(self) -> StoryContext:
        """The context every writer gets: NUL bytes gone, blank sentences dropped, the premise,
        memory and note clipped to MAX_PREMISE_CHARS (the prompt clips further), a negative
        depth read as 0; an empty premise is refused."""
        return StoryContext(clean_premise(self.premise)[:MAX_PREMISE_CHARS],
                            tuple(s.replace("\x00", "").strip() for s in self.sentences if s and s.strip()),
                            memory=_clean_text(self.memory), authors_note=_clean_text(self.authors_note),
                            note_depth=max(0, int(self.note_depth or 0)), bible=tuple(self.bible))

    def steering(self) -> dict[str, Any]:
        """What steered the sentence besides keywords and facts, for its provenance ({} when nothing)."""
        if not (self.memory or self.authors_note):
            return {}
        return {"memory": _digest(self.memory), "authors_note": _digest(self.authors_note),
                "note_depth": self.note_depth}


MAX_PREMISE_CHARS = 100_000
RECORDED_CHARS = 500  # longer memory and notes are recorded as their start, length and digest


def _clean_text(value: str | None) -> str:
    return (value or "").replace("\x00", "").strip()[:MAX_PREMISE_CHARS]


def _digest(text: str) -> dict[str, Any]:
    """`text` itself when short; else its first RECORDED_CHARS characters and a SHA-256."""
    if len(text) <= RECORDED_CHARS:
        return {"text": text, "chars": len(text)}
    return {"text": text[:RECORDED_CHARS] + "…", "chars": len(text),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def clean_premise(premise: str | None) -> str:
    """A premise without NUL bytes or outer blanks; ValueError when nothing is left."""
    text = (premise or "").replace("\x00", "").strip()
    if not text:
        raise ValueError("the premise is empty: give a title or a first sentence")
    return text

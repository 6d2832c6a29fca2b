"""Plain records that storage functions take and return, detached from any session."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from numbers import Real
from typing import Any

from storage import validate
from storage.errors import InvalidInput
from storage.models import NODE_SOURCES, Node

MAX_CANDIDATES = 64
MAX_FACTS = 200
MAX_TOKENS = 512  # recorded tokens per candidate
MAX_ALTERNATIVES = 50
MAX_STEERING_CHARS = 5_000  # a node's record of memory and note (their starts, lengths, digests)


@dataclass(frozen=True)
class Provenance:
    """How a sentence came to be: the engine's per-sentence record, as plain data.

    `source` says who wrote it: "generated" by the model, "edited" by the writer
    from a generated sentence, or "typed" by the writer from scratch.
    """

    source: str = "typed"
    keywords: list[str] = field(default_factory=list)
    keywords_source: str = ""
    facts: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    chosen: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    model: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    backend: dict[str, str] = field(default_factory=dict)  # the generation backend: name, server, model file
    # Per candidate, each written token with its probability and runners-up (engine.alternatives).
    tokens: list[list[dict[str, Any]]] = field(default_factory=list)
    # The memory and author's note it was written with (engine.types.StoryContext.steering).
    steering: dict[str, Any] = field(default_factory=dict)
    # The coherence reranker's score of each candidate, in the order of `candidates` ([]: no reranker ran).
    coherence: list[float] = field(default_factory=list)

    @classmethod
    def from_step(cls, step: Mapping[str, Any], *, source: str = "generated") -> Provenance:
        """Build from the engine's `Step.to_dict()` (unknown keys are ignored)."""
        names = cls.__dataclass_fields__.keys() - {"source"}
        return cls(source=source, **{k: step[k] for k in names if k in step})

    def validated(self) -> Provenance:
        """Return a checked copy, or raise `InvalidInput` naming the bad field."""
        validate.choice(self.source, field="source", options=NODE_SOURCES)
        candidates = validate.json_list(self.candidates, field="candidates")
        if len(candidates) > MAX_CANDIDATES:
            raise InvalidInput(f"at most {MAX_CANDIDATES} candidates are allowed")
        for candidate in candidates:
            validate.text(candidate, field="candidate", allow_empty=True)
        if self.chosen is not None and not 0 <= _int(self.chosen, "chosen") < max(
            len(candidates), 1
        ):
            raise InvalidInput(
                f"chosen={self.chosen} is not an index into {len(candidates)} candidates"
            )
        if self.seed is not None and not -(2**63) <= _int(self.seed, "seed") < 2**63:
            raise InvalidInput("seed does not fit in 64 bits")
        return Provenance(
            source=self.source,
            keywords=validate.keywords(self.keywords),
            keywords_source=validate.text(
                self.keywords_source, field="keywords_source", limit=32, allow_empty=True
            ),
            facts=_facts(self.facts),
            candidates=candidates,
            chosen=self.chosen,
            params=validate.json_object(self.params, field="params"),
            seed=self.seed,
            model=validate.text(self.model, field="model", limit=300, allow_empty=True),
            timings_ms=_timings(self.timings_ms),
            notes=[
                validate.text(n, field="note", allow_empty=True)
                for n in validate.json_list(self.notes, field="notes")
            ],
            backend=_backend(self.backend),
            tokens=_tokens(self.tokens, len(candidates)),
            steering=_steering(self.steering),
            coherence=_coherence(self.coherence, len(candidates)),
        )

    def node_fields(self) -> dict[str, Any]:
        """Column values for a `Node` (call on a validated record)."""
        return asdict(self)


@dataclass(frozen=True)
class NodeView:
    """One sentence on a story's path, with its provenance and its siblings."""

    id: int
    parent_id: int | None
    position: int
    text: str
    provenance: Provenance
    created_at: datetime
    sibling_ids: list[int]

    @property
    def version(self) -> int:
        """1-based index of this node among its siblings ("version n of m")."""
        return self.sibling_ids.index(self.id) + 1

    @property
    def versions(self) -> int:
        """How many versions of this sentence the story has."""
        return len(self.sibling_ids)


@dataclass(frozen=True)
class StoryView:
    """A story loaded as its path from root to head."""

    id: int
    owner_id: int
    title: str
    premise: str
    settings: dict[str, Any]
    head_node_id: int | None
    forked_from_id: int | None
    can_undo: bool
    can_redo: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    nodes: list[NodeView]
    memory: str = ""
    authors_note: str = ""
    note_depth: int = 1
    storyline: dict[str, Any] = field(default_factory=dict)  # {"slots": [[keyword, ...], ...], "source": ...} or {}
    bible: tuple[Any, ...] = ()  # the story bible's live entries (storage.bible.EntryView), oldest first
    ratings: dict[int, list[Any]] = field(default_factory=dict)  # node id -> storage.ratings.RatingView

    @property
    def text(self) -> str:
        """The story's sentences joined with spaces."""
        return " ".join(node.text.strip() for node in self.nodes)


@dataclass(frozen=True)
class StorySummary:
    """A line in a user's story list."""

    id: int
    title: str
    premise: str
    sentences: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


def provenance_of(node: Node) -> Provenance:
    """The provenance stored on a node."""
    names = Provenance.__dataclass_fields__.keys()
    return Provenance(**{name: getattr(node, name) for name in names})


def _backend(value: Any) -> dict[str, str]:
    """The backend record: a few short named strings (name, server_url, served_model, ...)."""
    found = validate.json_object(value, field="backend")
    if len(found) > 16:
        raise InvalidInput("backend has more than 16 entries")
    return {
        validate.text(str(k), field="backend key", limit=64): validate.text(
            str(v), field=f"backend {k}", limit=500, allow_empty=True
        )
        for k, v in found.items()
    }


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    return value


def _facts(value: Any) -> list[dict[str, Any]]:
    facts = validate.json_list(value, field="facts")
    if len(facts) > MAX_FACTS:
        raise InvalidInput(f"at most {MAX_FACTS} facts are allowed, got {len(facts)}")
    for fact in facts:
        if not isinstance(fact, Mapping):
            raise InvalidInput("each fact must be an object (a dict)")
        score = fact.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, Real)):
            raise InvalidInput(f"fact score must be a number, got {score!r}")
    return [dict(fact) for fact in facts]


def _token(value: Any, name: str) -> dict[str, Any]:
    """One recorded token: {"id": int, "text": str, "prob": 0..1}."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"each {name} must be an object with id, text and prob")
    prob = value.get("prob")
    if isinstance(prob, bool) or not isinstance(prob, Real) or not 0 <= prob <= 1:
        raise InvalidInput(f"{name} prob must be a number from 0 to 1, got {prob!r}")
    return {"id": _int(value.get("id"), f"{name} id"), "prob": float(prob),
            "text": validate.text(value.get("text"), field=f"{name} text", limit=200, allow_empty=True)}


def _tokens(value: Any, candidates: int) -> list[list[dict[str, Any]]]:
    """Per candidate, its tokens with their alternatives (at most one list per candidate)."""
    rows = validate.json_list(value, field="tokens")
    if len(rows) > max(candidates, 1):
        raise InvalidInput(f"tokens has {len(rows)} rows for {candidates} candidates")
    out = []
    for row in rows:
        row = validate.json_list(row, field="tokens row")
        if len(row) > MAX_TOKENS:
            raise InvalidInput(f"at most {MAX_TOKENS} tokens per candidate are recorded")
        checked = []
        for item in row:
            token = _token(item, "token")
            options = validate.json_list(item.get("alternatives", []), field="alternatives")
            if len(options) > MAX_ALTERNATIVES:
                raise InvalidInput(f"at most {MAX_ALTERNATIVES} alternatives per token")
            checked.append({**token, "alternatives": [_token(o, "alternative") for o in options]})
        out.append(checked)
    return out


def _coherence(value: Any, candidates: int) -> list[float]:
    """The reranker's scores: none, or one finite number per candidate."""
    scores = validate.json_list(value, field="coherence")
    if scores and len(scores) != candidates:
        raise InvalidInput(f"coherence has {len(scores)} scores for {candidates} candidates")
    for score in scores:
        if isinstance(score, bool) or not isinstance(score, Real) or not math.isfinite(score):
            raise InvalidInput(f"a coherence score must be a finite number, got {score!r}")
    return [float(score) for score in scores]


def _steering(value: Any) -> dict[str, Any]:
    """The steering record: short JSON (the engine records long texts by their start and digest)."""
    found = validate.json_object(value, field="steering")
    if len(json.dumps(found, ensure_ascii=False)) > MAX_STEERING_CHARS:
        raise InvalidInput(f"steering is longer than {MAX_STEERING_CHARS:,} characters")
    return found


def _timings(value: Any) -> dict[str, float]:
    timings = validate.json_object(value, field="timings_ms")
    for stage, ms in timings.items():
        if isinstance(ms, bool) or not isinstance(ms, Real) or ms < 0:
            raise InvalidInput(f"timing for {stage!r} must be a non-negative number")
    return timings

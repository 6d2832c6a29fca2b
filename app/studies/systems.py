"""Systems a generated study compares: engine configurations that write a story from a premise.

- `full`: the whole pipeline (predicted keywords, knowledge, keyword-guided generation).
- `no_knowledge`: the same without the knowledge base.
- `plain`: plain continuation: no keywords in the prompt, keyword strength 0, no knowledge.
- `antonym`: each predicted keyword swapped for an antonym (ConceptNet, WordNet fallback).
- `model`: the full pipeline on another model (`--other-model`).

Each name is a spec in the one registry of systems (`engine.evaluation.systems.study_spec`), and
writers are built from the spec's fields, never from the name.

A system runs as named or not at all: `check_parts` refuses one whose model, trained adapter
or knowledge base is missing (naming the command that provides it) before anything is loaded,
and every story keeps what actually wrote it (`WrittenStory.provenance`).

Nothing here loads a model at import; `build_writers` does, once per model, unless the
caller hands it that model already loaded (the editor's engine, when the admin page runs
inside the app).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from app.studies.antonyms import AntonymTable
from engine.evaluation.systems import STUDY_SYSTEMS, NoKeywords, SystemSpec, study_spec

# The names studies store; what each stands for is `engine.evaluation.systems.STUDY_SYSTEMS`.
SYSTEM_NAMES = tuple(STUDY_SYSTEMS)
__all__ = ["NoKeywords", "SYSTEM_NAMES", "StoryWriter", "WrittenStory", "build_writers", "check_parts"]


class MissingParts(ValueError):
    """A system cannot run as named: its model, trained adapter or knowledge base is missing."""


@dataclass(frozen=True)
class WrittenStory:
    """One generated story and what made it (kept hidden from raters)."""

    premise: str
    sentences: list[str]
    keywords: list[list[str]]
    system: str
    model: str
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)  # what wrote it: `provenance_of`


class StepPipeline(Protocol):
    """What a writer needs from `engine.pipeline.Pipeline` (the app's FakeEngine has it too)."""

    def suggest_keywords(self, context: Any, seed: int | None = None) -> list[str]: ...

    def stream_step(self, context: Any, **kwargs: Any) -> Iterator[Any]: ...


@dataclass
class StoryWriter:
    """Writes a story sentence by sentence with one system's settings.

    Attributes:
        system: Its name in results.
        pipeline: The engine pipeline (or a fake with the same two methods).
        plain: No keywords at all: the prompt has none and keyword guidance is off.
        antonyms: When set, predicted keywords are swapped for antonyms before generating.
    """

    system: str
    pipeline: StepPipeline
    plain: bool = False
    antonyms: AntonymTable | None = None

    def write(self, premise: str, *, n_sentences: int, seed: int) -> WrittenStory:
        """Write `n_sentences` after `premise`, seeded per sentence for reproducibility."""
        from engine.types import SamplingParams, StoryContext

        context, sentences, keywords, notes, steps = StoryContext(premise), [], [], [], []
        for i in range(n_sentences):
            params = SamplingParams(seed=seed + i, keyword_strength=0.0 if self.plain else 4.0)
            given = None
            if self.antonyms is not None:
                predicted = self.pipeline.suggest_keywords(context, seed=seed + i)
                given, swapped = self.antonyms.swap(predicted)
                notes.append(f"sentence {i + 1}: {swapped} of {len(predicted)} keywords swapped")
            step = _last(self.pipeline.stream_step(context, keywords=given, params=params))
            steps.append(step)
            sentences.append(step.sentence)
            keywords.append([] if self.plain else list(step.keywords))
            context = context.extend(step.sentence)
        model = getattr(self.pipeline, "model_id", "")
        made = provenance_of(self.pipeline, steps, swapped=self.antonyms is not None)
        return WrittenStory(premise, sentences, keywords, self.system, str(model), notes, made)


def provenance_of(pipeline: Any, steps: Sequence[Any], *, swapped: bool = False) -> dict[str, Any]:
    """What actually wrote a story: model, adapter, backend, knowledge base and its size, keyword source.

    Read from the pipeline's stages and the Steps it returned, not from the system's name.
    """
    retriever = getattr(pipeline, "retriever", None)
    path = getattr(retriever, "path", None)
    sources = sorted({str(getattr(s, "keywords_source", "")) for s in steps} - {""})
    backend = next((getattr(s, "backend", {}) for s in steps if getattr(s, "backend", None)), {})
    return {
        "model": next((str(s.model) for s in steps if getattr(s, "model", "")), str(getattr(pipeline, "model_id", ""))),
        "adapter": Path(adapter).name if (adapter := next((s.adapter for s in steps if getattr(s, "adapter", None)),
                                                          None)) else "none",
        "backend": str(backend.get("name", "")) or "unknown",
        "knowledge_base": str(path) if path else "none",
        "knowledge_edges": _edges(path) if path else 0,
        "knowledge_note": str(getattr(pipeline, "knowledge_note", "")),
        "facts_used": sum(len(getattr(s, "facts", []) or []) for s in steps),
        "keywords": ("antonyms of predicted" if swapped else ", ".join(sources)) or "none",
    }


def _edges(path: Any) -> int:
    """Edges in a knowledge store (0 when it cannot be read)."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM edges").fetchone()[0] or 0)
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def check_parts(
    *,
    systems: Sequence[str],
    model: str,
    other_model: str | None = None,
    kb_path: str | None = None,
    preloaded: Mapping[str, Any] | None = None,
) -> None:
    """Refuse systems whose parts are missing, before any model is loaded.

    The models must resolve (the default one installed), the default model's trained adapter
    must be in place, and the systems that write with knowledge need a knowledge base with
    edges (or, for a handed-over pipeline, a retriever that is not the empty fallback).

    Raises:
        MissingParts: One line per missing part, each with the command that provides it.
    """
    from engine.adapters import DEFAULT_ADAPTER
    from engine.knowledge import load_default_stage
    from engine.knowledge.base import NullRetriever
    from engine.loading import DEFAULT_MODEL, resolve_model

    ready = dict(preloaded or {})
    problems: list[str] = []
    specs = {s: study_spec(s) for s in systems}
    wanted = {s: str(other_model if spec.model == "other" else model) for s, spec in specs.items()
              if spec.model != "other" or other_model}
    for name in dict.fromkeys(wanted.values()):
        if name in ready:
            continue
        try:
            resolved = resolve_model(_load_config(name).model)
        except ValueError as error:
            problems.append(f"model {name!r}: {error}")
            continue
        if resolved.model_id == DEFAULT_MODEL and not (DEFAULT_ADAPTER / "adapter_config.json").is_file():
            problems.append(f"the default model's trained adapter is missing at {DEFAULT_ADAPTER} (restore it: "
                            "git checkout -- assets/adapters/cntrl-smollm2; or train one: python -m engine train)")
    for system, name in wanted.items():
        if not specs[system].knowledge:
            continue
        if name in ready:
            retriever, note = getattr(ready[name], "retriever", None), getattr(ready[name], "knowledge_note", "")
        else:
            retriever, _, note = load_default_stage(None, kb_path, ranker="null")
        if isinstance(retriever, NullRetriever):
            problems.append(f"system {system!r} writes with knowledge, but {note}")
    if problems:
        raise MissingParts("; ".join(dict.fromkeys(problems)))


def _last(stream: Iterator[Any]) -> Any:
    """The Step that ends a sentence stream (the text deltas before it are dropped)."""
    step = None
    for item in stream:
        step = item
    return step


def build_writers(
    *,
    systems: Sequence[str],
    model: str,
    other_model: str | None = None,
    kb_path: str | None = None,
    predictor: str = "model",
    antonym_file: str | None = None,
    preloaded: Mapping[str, Any] | None = None,
) -> list[StoryWriter]:
    """Load each model once (or take it already loaded) and make one writer per system.

    Args:
        systems: Names from `SYSTEM_NAMES`.
        model: Model for every system but `model` (a load preset such as "tiny", a hub
            id, a directory or a GGUF file).
        other_model: The model of the `model` system.
        kb_path: Knowledge base file; `None` uses the engine's default.
        predictor: Keyword predictor, "model" or "rake".
        antonym_file: ConceptNet antonym file; `None` uses the shared data copy.
        preloaded: Model name -> an already built pipeline to write with instead of
            loading that model again; it keeps its own knowledge base and predictor
            (`kb_path` and `predictor` apply to the models loaded here).

    Returns:
        Writers in the order of `systems`.
    """
    unknown = [s for s in systems if s not in SYSTEM_NAMES]
    if unknown or not systems:
        raise ValueError(f"unknown systems {unknown}; choose from {', '.join(SYSTEM_NAMES)}")
    specs = [study_spec(name) for name in systems]
    if any(spec.model == "other" for spec in specs) and not other_model:
        raise ValueError("the 'model' system needs --other-model")
    from engine.build import KnowledgeOptions, pipeline_from_model
    from engine.knowledge.base import NullRanker, NullRetriever
    from engine.loading import load_model

    loaded: dict[str, Any] = {}
    ready = dict(preloaded or {})

    def pipeline(name: str, *, knowledge: bool) -> Any:
        if name in ready:
            off = {"retriever": NullRetriever(), "ranker": NullRanker(), "knowledge_note": "knowledge turned off"}
            return ready[name] if knowledge else _with_stages(ready[name], **off)
        if name not in loaded:
            loaded[name] = load_model(_load_config(name))
        options = KnowledgeOptions(kb_path=kb_path, enabled=knowledge)
        return pipeline_from_model(loaded[name], knowledge=options, predictor=predictor)

    def writer(name: str, spec: SystemSpec) -> StoryWriter:
        made = pipeline(str(other_model) if spec.model == "other" else model, knowledge=spec.knowledge)
        if spec.keywords == "none":
            made = _with_stages(made, predictor=NoKeywords(), retriever=NullRetriever(), ranker=NullRanker())
        antonyms = AntonymTable.load(antonym_file) if spec.keywords == "antonym" else None
        return StoryWriter(name, made, plain=spec.keywords == "none", antonyms=antonyms)

    return [writer(name, spec) for name, spec in zip(systems, specs, strict=True)]


def _with_stages(pipeline: Any, **stages: Any) -> Any:
    """A copy with these stages swapped (the model is shared); a scripted engine has no stages to swap."""
    if not is_dataclass(pipeline):
        return pipeline
    names = {f.name for f in fields(pipeline)}
    return replace(pipeline, **{k: v for k, v in stages.items() if k in names})


def _load_config(name: str) -> Any:
    """A load preset by name ("tiny", "default", ...) or a model path/id."""
    from engine.loading import LoadConfig, ModelLoadError

    try:
        return LoadConfig.from_name(name)
    except ModelLoadError:
        return LoadConfig(model=name)


def generate_stories(
    *,
    writers: Sequence[StoryWriter],
    premises: Sequence[str],
    n_sentences: int,
    seed: int = 0,
    progress: bool = True,
) -> list[WrittenStory]:
    """Every writer on every premise, with a progress bar (the same seed per premise).

    Args:
        writers: One per system (`build_writers`).
        premises: Story openings.
        n_sentences: Sentences to write after each premise.
        seed: Base seed; premise i uses seed + 1000 * i for every system.
        progress: Show a tqdm progress bar on stderr.

    Returns:
        Stories premise by premise, systems in the writers' order.
    """
    from tqdm import tqdm

    bar = tqdm(total=len(premises) * len(writers), disable=not progress, unit="story")
    stories = []
    for i, premise in enumerate(premises):
        for writer in writers:
            bar.set_description(f"premise {i + 1}/{len(premises)}")
            stories.append(writer.write(premise, n_sentences=n_sentences, seed=seed + 1000 * i))
            bar.update(1)
    bar.close()
    return stories

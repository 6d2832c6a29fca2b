"""Assemble a Pipeline from loading and knowledge options."""

from __future__ import annotations

from dataclasses import dataclass

from engine.generator import Generator, GeneratorConfig
from engine.keyword_predictor import KeywordPredictor
from engine.loading import LoadConfig, LoadedModel, load_model
from engine.pipeline import Pipeline, RakePredictor

PREDICTORS = {"model": KeywordPredictor, "rake": RakePredictor}


@dataclass(frozen=True)
class KnowledgeOptions:
    """Which knowledge base and ranker to use; `enabled=False` writes without knowledge."""

    kb_path: str | None = None
    ranker: str = "embedding"
    enabled: bool = True


def generator_from_model(loaded: LoadedModel, config: GeneratorConfig | None = None) -> Generator:
    """The generator of a loaded model, in the prompt style its adapter learned (if any)."""
    adapter = getattr(loaded, "adapter", None)
    return Generator(
        loaded.model, loaded.tokenizer, loaded.model_id, config,
        prompt_style=adapter.prompt_style if adapter else "auto", adapter=adapter.path if adapter else None,
    )


def make_predictor(name: str, generator: Generator) -> KeywordPredictor | RakePredictor:
    """The keyword predictor registered as `name` ("model" or "rake")."""
    if name not in PREDICTORS:
        raise ValueError(f"unknown keyword predictor {name!r}; choose from {', '.join(PREDICTORS)}")
    return KeywordPredictor(generator) if name == "model" else RakePredictor()


def pipeline_from_model(
    loaded: LoadedModel,
    *,
    knowledge: KnowledgeOptions = KnowledgeOptions(),
    data_dir: str | None = None,
    predictor: str = "model",
    generator_config: GeneratorConfig | None = None,
) -> Pipeline:
    """A Pipeline around an already loaded model."""
    from engine.knowledge import load_default_stage
    from engine.knowledge.base import NullRanker, NullRetriever

    generator = generator_from_model(loaded, generator_config)
    chosen = make_predictor(predictor, generator)
    if knowledge.enabled:
        retriever, ranker, note = load_default_stage(data_dir, knowledge.kb_path, ranker=knowledge.ranker)
    else:
        retriever, ranker, note = NullRetriever(), NullRanker(), "knowledge turned off"
    return Pipeline(generator=generator, predictor=chosen, retriever=retriever, ranker=ranker, knowledge_note=note)


def build_pipeline(
    load: LoadConfig | None = None,
    *,
    knowledge: KnowledgeOptions = KnowledgeOptions(),
    predictor: str = "model",
    generator_config: GeneratorConfig | None = None,
) -> Pipeline:
    """Load the model `load` names and compose the full pipeline."""
    load = load or LoadConfig()
    loaded = load_model(load)
    return pipeline_from_model(
        loaded, knowledge=knowledge, data_dir=load.data_dir, predictor=predictor, generator_config=generator_config
    )

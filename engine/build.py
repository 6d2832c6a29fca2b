"""Assemble a Pipeline from loading and knowledge options."""

from __future__ import annotations

from dataclasses import dataclass

from engine.generator import BaseGenerator, Generator, GeneratorConfig
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


def remote_generator(load: LoadConfig, config: GeneratorConfig | None = None) -> BaseGenerator:
    """The llama-cpp or vllm generator `load` names, without loading torch weights here."""
    from engine.adapters import adapter_prompt_style, resolve_adapter
    from engine.loading import DEFAULT_MODEL, load_tokenizer
    from engine.planner import ModelLoadError

    tokenizer, model_id, gguf, folder = load_tokenizer(load)
    adapter = resolve_adapter(load.adapter, default_model=model_id == DEFAULT_MODEL)
    style = adapter_prompt_style(adapter) if adapter else "auto"
    if load.backend == "llama-cpp":
        from engine.backends.gguf_lora import cached_gguf_lora
        from engine.backends.llama_cpp import LlamaCppGenerator, load_llama

        if gguf is None:
            raise ModelLoadError(f"--backend llama-cpp needs a .gguf model; {load.model} is not one")
        lora = cached_gguf_lora(adapter, folder) if adapter else None
        window = (config or GeneratorConfig()).max_context_tokens
        llm = load_llama(gguf, n_ctx=window, threads=load.threads, lora=lora)
        return LlamaCppGenerator(llm, tokenizer, model_id, config, gguf=str(gguf), prompt_style=style,
                                 adapter=str(adapter) if adapter else None, lora_gguf=str(lora) if lora else None)
    from engine.backends.vllm_client import VllmGenerator

    served = load.served_model or (adapter.name if adapter else "cntrl-default")
    return VllmGenerator(tokenizer, model_id, server_url=load.server_url, served_model=served, config=config,
                         prompt_style=style, adapter=str(adapter) if adapter else None)


def make_predictor(name: str, generator: Generator) -> KeywordPredictor | RakePredictor:
    """The keyword predictor registered as `name` ("model" or "rake")."""
    if name not in PREDICTORS:
        raise ValueError(f"unknown keyword predictor {name!r}; choose from {', '.join(PREDICTORS)}")
    return KeywordPredictor(generator) if name == "model" else RakePredictor()


def pipeline_from_model(
    loaded: LoadedModel | BaseGenerator,
    *,
    knowledge: KnowledgeOptions = KnowledgeOptions(),
    data_dir: str | None = None,
    predictor: str = "model",
    generator_config: GeneratorConfig | None = None,
) -> Pipeline:
    """A Pipeline around an already loaded model."""
    from engine.knowledge import load_default_stage
    from engine.knowledge.base import NullRanker, NullRetriever

    generator = loaded if isinstance(loaded, BaseGenerator) else generator_from_model(loaded, generator_config)
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
    loaded = load_model(load) if load.backend == "torch" else remote_generator(load, generator_config)
    return pipeline_from_model(
        loaded, knowledge=knowledge, data_dir=load.data_dir, predictor=predictor, generator_config=generator_config
    )

"""Assemble a Pipeline from loading and knowledge options.

The keyword predictor and the generation backend are chosen by name from plain dict registries
(`PREDICTORS`, `BACKEND_LOADERS`), so tests and ablations swap them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.generator import BaseGenerator, Generator, GeneratorConfig
from engine.keyword_predictor import KeywordPredictor
from engine.loading import LoadConfig, LoadedModel, load_model
from engine.pipeline import Pipeline, RakePredictor

Predictor = KeywordPredictor | RakePredictor
log = logging.getLogger(__name__)


def _rake_predictor(generator: BaseGenerator) -> RakePredictor:
    """RAKE on the latest sentence: needs no model."""
    return RakePredictor()


# name -> predictor made around the pipeline's generator
PREDICTORS: dict[str, Callable[[BaseGenerator], Predictor]] = {"model": KeywordPredictor, "rake": _rake_predictor}


@dataclass(frozen=True)
class KnowledgeOptions:
    """Which knowledge base and ranker to use; `enabled=False` writes without knowledge."""

    kb_path: str | None = None
    ranker: str = "embedding"
    enabled: bool = True


@dataclass(frozen=True)
class ServedModel:
    """What a backend that runs the model outside torch needs: tokenizer, files and prompt style."""

    tokenizer: Any
    model_id: str
    gguf: Path | None  # the model's GGUF file, when it has one
    folder: Path  # the model's folder (the converted copy of a GGUF)
    adapter: Path | None  # the trained adapter's folder, when one applies
    style: str  # the prompt style the adapter learned, else "auto"


def generator_from_model(loaded: LoadedModel, config: GeneratorConfig | None = None) -> Generator:
    """The generator of a loaded model, in the prompt style its adapter learned (if any)."""
    adapter = getattr(loaded, "adapter", None)
    return Generator(
        loaded.model, loaded.tokenizer, loaded.model_id, config,
        prompt_style=adapter.prompt_style if adapter else "auto", adapter=adapter.path if adapter else None,
    )


def _served_model(load: LoadConfig) -> ServedModel:
    """The tokenizer, files and adapter of the model `load` names, without loading torch weights."""
    from engine.adapters import adapter_prompt_style, resolve_adapter
    from engine.loading import DEFAULT_MODEL, load_tokenizer

    tokenizer, model_id, gguf, folder = load_tokenizer(load)
    adapter = resolve_adapter(load.adapter, default_model=model_id == DEFAULT_MODEL)
    return ServedModel(tokenizer, model_id, gguf, folder, adapter,
                       adapter_prompt_style(adapter) if adapter else "auto")


def _torch_generator(load: LoadConfig, config: GeneratorConfig | None) -> Generator:
    """The model loaded into this process with torch."""
    return generator_from_model(load_model(load), config)


def _llama_cpp_generator(load: LoadConfig, config: GeneratorConfig | None) -> BaseGenerator:
    """The model's GGUF file run by llama.cpp, with the adapter as a GGUF LoRA."""
    from engine.backends.gguf_lora import cached_gguf_lora
    from engine.backends.llama_cpp import ROW_TOKENS, SEQUENCES, LlamaCppGenerator, load_llama
    from engine.planner import ModelLoadError

    served = _served_model(load)
    if served.gguf is None:
        raise ModelLoadError(f"--backend llama-cpp needs a .gguf model; {load.model} is not one")
    adapter = served.adapter
    lora = cached_gguf_lora(adapter, served.folder) if adapter else None
    window = (config or GeneratorConfig()).max_context_tokens
    # the prompt window, plus room for the other candidate rows' sentences in the shared KV cache
    llm = load_llama(served.gguf, n_ctx=window + (SEQUENCES - 1) * ROW_TOKENS, threads=load.threads, lora=lora)
    return LlamaCppGenerator(llm, served.tokenizer, served.model_id, config, gguf=str(served.gguf),
                             prompt_style=served.style, adapter=str(adapter) if adapter else None,
                             lora_gguf=str(lora) if lora else None)


def _vllm_generator(load: LoadConfig, config: GeneratorConfig | None) -> BaseGenerator:
    """A client of the vLLM server at `load.server_url`."""
    from engine.backends.vllm_client import VllmGenerator

    served = _served_model(load)
    adapter = served.adapter
    name = load.served_model or (adapter.name if adapter else "cntrl-default")
    return VllmGenerator(served.tokenizer, served.model_id, server_url=load.server_url, served_model=name,
                         config=config, prompt_style=served.style, adapter=str(adapter) if adapter else None)


# name (`--backend`, engine.backends.BACKENDS) -> the generator that backend runs
BACKEND_LOADERS: dict[str, Callable[[LoadConfig, GeneratorConfig | None], BaseGenerator]] = {
    "torch": _torch_generator,
    "llama-cpp": _llama_cpp_generator,
    "vllm": _vllm_generator,
}


def auto_backend(load: LoadConfig) -> tuple[str, str]:
    """The backend "auto" picks for `load` before trying it, and why: llama-cpp for a GGUF model
    loaded as it is on a machine without a GPU when llama-cpp-python is installed, else torch."""
    import importlib.util

    import torch

    from engine.model_source import resolve_model
    from engine.planner import ModelLoadError

    if load.quantize != "none" or load.dtype != "auto" or load.device_map not in ("auto", "cpu"):
        return "torch", "placement flags (--quantize, --dtype, --device-map) apply to torch"
    if torch.cuda.is_available():
        return "torch", "a GPU is present"
    try:
        kind = resolve_model(load.model, data_dir=load.data_dir).kind
    except ModelLoadError:
        return "torch", "the model is not a local file"  # torch loading reports the real error
    if kind != "gguf":
        return "torch", "the model is not a .gguf file"
    if importlib.util.find_spec("llama_cpp") is None:
        return "torch", "llama-cpp-python is not installed (bash scripts/setup.sh installs it)"
    return "llama-cpp", "a .gguf model on the CPU"


def generator_for(load: LoadConfig, config: GeneratorConfig | None = None) -> BaseGenerator:
    """The generator of the backend `load.backend` names, for the model `load` names. "auto" tries
    llama-cpp where `auto_backend` allows it and falls back to torch, with one log line either way."""
    if load.backend != "auto":
        return BACKEND_LOADERS[load.backend](load, config)
    from engine.planner import ModelLoadError

    backend, why = auto_backend(load)
    if backend == "torch":
        log.info("backend auto: torch (%s)", why)
        return BACKEND_LOADERS["torch"](load, config)
    try:
        generator = BACKEND_LOADERS["llama-cpp"](load, config)
    except ModelLoadError as exc:
        # torch's error is the one to show when torch cannot load the file either (a broken file)
        generator = BACKEND_LOADERS["torch"](load, config)
        log.warning("backend auto: torch, because llama.cpp cannot load the model: %s", exc)
        return generator
    log.info("backend auto: llama-cpp (%s)", why)
    return generator


def load_reranker(name: str, ranker):
    """The coherence reranker `name` names over the ranker's encoder, or None for "none"."""
    from engine.coherence import DEFAULT_COHERENCE, CoherenceReranker, load_scorer, ranker_encoder

    if name == "none":
        return None
    folder = DEFAULT_COHERENCE if name == "auto" else Path(name)
    if not hasattr(ranker, "_encode"):
        raise ValueError("the coherence reranker reads the embedding ranker's sentence vectors; "
                         "it cannot run with the knowledge ranker turned off")
    return CoherenceReranker(load_scorer(folder), ranker_encoder(ranker))


def make_predictor(name: str, generator: BaseGenerator) -> Predictor:
    """The keyword predictor registered as `name` in `PREDICTORS` ("model" or "rake")."""
    if name not in PREDICTORS:
        raise ValueError(f"unknown keyword predictor {name!r}; choose from {', '.join(PREDICTORS)}")
    return PREDICTORS[name](generator)


def pipeline_from_model(
    loaded: LoadedModel | BaseGenerator,
    *,
    knowledge: KnowledgeOptions = KnowledgeOptions(),
    data_dir: str | None = None,
    predictor: str = "model",
    generator_config: GeneratorConfig | None = None,
    reranker: str = "none",
) -> Pipeline:
    """A Pipeline around an already loaded model; `reranker` names the coherence reranker
    (engine.coherence.load_reranker: "none", "auto" for the shipped one, or a folder)."""
    from engine.knowledge import load_default_stage
    from engine.knowledge.base import NullRanker, NullRetriever

    generator = loaded if isinstance(loaded, BaseGenerator) else generator_from_model(loaded, generator_config)
    chosen = make_predictor(predictor, generator)
    if knowledge.enabled:
        retriever, ranker, note = load_default_stage(data_dir, knowledge.kb_path, ranker=knowledge.ranker)
    else:
        retriever, ranker, note = NullRetriever(), NullRanker(), "knowledge turned off"
    pipeline = Pipeline(generator=generator, predictor=chosen, retriever=retriever, ranker=ranker, knowledge_note=note)
    pipeline.reranker = load_reranker(reranker, ranker)
    return pipeline


def build_pipeline(
    load: LoadConfig | None = None,
    *,
    knowledge: KnowledgeOptions = KnowledgeOptions(),
    predictor: str = "model",
    generator_config: GeneratorConfig | None = None,
    reranker: str = "none",
) -> Pipeline:
    """Load the model `load` names on its backend and compose the full pipeline."""
    load = load or LoadConfig()
    return pipeline_from_model(
        generator_for(load, generator_config), knowledge=knowledge, data_dir=load.data_dir, predictor=predictor,
        reranker=reranker,
    )

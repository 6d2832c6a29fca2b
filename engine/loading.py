"""Model loading: the default GGUF model, local directories, hub ids, sharding and 4/8-bit.

Read top to bottom with its parts: the config and its flags (`engine/load_config.py`), where
a model comes from (`engine/model_source.py`), the converted-GGUF cache
(`engine/gguf_cache.py`), then `load_model` here, which plans the device map with
`engine.planner` and hands it to transformers. The names of those parts are re-exported, so
`from engine.loading import LoadConfig, load_model, ...` keeps working.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import paths
from engine.adapters import apply_adapter, resolve_adapter
from engine.gguf_cache import (  # noqa: F401 - re-exported
    CACHE_MARKER,
    cache_is_fresh,
    convert_gguf,
    cut_short_weights,
    gguf_cache_dir,
)
from engine.load_config import LoadConfig, add_loading_args, load_config_from_args
from engine.model_source import (  # noqa: F401 - re-exported
    DEFAULT_GGUF,
    DEFAULT_MODEL,
    TINY_MODEL,
    ResolvedModel,
    default_gguf_path,
    resolve_model,
)
from engine.planner import (
    ModelLoadError,
    bnb_config,
    build_skeleton,
    cpu_only_map,
    infer_device_map,
    make_quantizer,
    needs_offload,
    one_line,
    read_config,
    resolve_dtype,
)

__all__ = [
    "DEFAULT_MODEL",
    "LoadConfig",
    "LoadedModel",
    "ModelLoadError",
    "ResolvedModel",
    "add_loading_args",
    "load_config_from_args",
    "load_model",
    "resolve_model",
]


@dataclass
class LoadedModel:
    """A loaded causal LM with its tokenizer and where it came from."""

    model: Any
    tokenizer: Any
    model_id: str
    device: str
    load_seconds: float
    source: str  # gguf-cache | gguf-convert | hf-dir | hub
    device_map: dict[str, Any] = field(default_factory=dict)
    adapter: Any = None  # engine.adapters.AdapterInfo when a trained adapter was applied


def configure_threads(threads: int = 0) -> int:
    """Use `threads` CPU threads for torch (0: every core this process may use)."""
    import torch

    if threads <= 0:
        threads = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def load_model(config: LoadConfig | None = None) -> LoadedModel:
    """Load the model and tokenizer `config` names, applying the planner's device map.

    Args:
        config: What to load and how; default `LoadConfig()` (the offline default model).

    Returns:
        A LoadedModel in eval mode; its tokenizer has a pad token and pads on the left.

    Raises:
        ModelLoadError: with a one-line message for every expected failure.
    """
    config = config or LoadConfig()
    start = time.perf_counter()
    configure_threads(config.threads)
    data_dir = paths.data_dir(config.data_dir)
    resolved = resolve_model(config.model, data_dir=data_dir)
    if resolved.kind == "gguf":
        model, tokenizer, device_map, source = _load_gguf(resolved, config, data_dir)
    else:
        model, device_map = _load_weights(resolved.location, config, data_dir)
        tokenizer, source = _load_tokenizer(resolved.location), resolved.kind
    _prepare_for_generation(model, tokenizer)
    adapter = None
    folder = resolve_adapter(config.adapter, default_model=resolved.model_id == DEFAULT_MODEL)
    if folder is not None:
        model, adapter = apply_adapter(model, folder, quantized=config.quantize != "none")
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        model_id=resolved.model_id,
        device=_input_device(model),
        load_seconds=time.perf_counter() - start,
        source=source,
        device_map=device_map,
        adapter=adapter,
    )


def ensure_converted(gguf: Path, data_dir: Path) -> tuple[Path, str]:
    """The converted folder of `gguf` (converting it when missing or stale) and which it was."""
    cache = gguf_cache_dir(gguf, data_dir)
    if cache_is_fresh(cache, gguf):
        return cache, "gguf-cache"
    convert_gguf(gguf, cache)
    return cache, "gguf-convert"


def load_tokenizer(config: LoadConfig) -> tuple[Any, str, Path | None, Path]:
    """Tokenizer, model id, GGUF file (or None) and model folder of the model `config` names,
    without loading its weights (for backends that run the model elsewhere)."""
    data_dir = paths.data_dir(config.data_dir)
    resolved = resolve_model(config.model, data_dir=data_dir)
    gguf = Path(resolved.location) if resolved.kind == "gguf" else None
    folder = ensure_converted(gguf, data_dir)[0] if gguf else Path(resolved.location)
    tokenizer = _load_tokenizer(str(folder) if gguf else resolved.location)
    _prepare_tokenizer(tokenizer)
    return tokenizer, resolved.model_id, gguf, folder


def _load_gguf(resolved: ResolvedModel, config: LoadConfig, data_dir: Path):
    gguf = Path(resolved.location)
    cache, source = ensure_converted(gguf, data_dir)
    try:
        model, device_map = _load_weights(str(cache), config, data_dir)
        tokenizer = _load_tokenizer(str(cache))
    except ModelLoadError:
        if source == "gguf-convert":
            raise
        convert_gguf(gguf, cache)  # the cache was damaged: rebuild it once
        model, device_map = _load_weights(str(cache), config, data_dir)
        tokenizer, source = _load_tokenizer(str(cache)), "gguf-convert"
    return model, tokenizer, device_map, source


def plan_for_loading(location: str, config: LoadConfig) -> tuple[dict[str, Any], Any, Any]:
    """The device map, torch dtype and quantization config loading will use."""
    hf_config = read_config(location)
    dtype = resolve_dtype(config.dtype, hf_config)
    quantizer = make_quantizer(config.quantize, dtype)  # fails early without bitsandbytes
    device_map = cpu_only_map(
        strategy=config.device_map,
        max_memory=config.max_memory,
        checkpoint_bytes=_checkpoint_bytes(location),
    )
    if device_map is None:
        skeleton = build_skeleton(hf_config, dtype=dtype, quantizer=quantizer)
        device_map = infer_device_map(
            skeleton, strategy=config.device_map, max_memory=config.max_memory, quantizer=quantizer
        )
    return (
        device_map,
        dtype,
        bnb_config(config.quantize, dtype, cpu_offload=needs_offload(device_map)),
    )


def _checkpoint_bytes(location: str) -> int | None:
    """Bytes of weight files in a local model directory (None for a hub id)."""
    folder = Path(location)
    if not folder.is_dir():
        return None
    return sum(f.stat().st_size for f in folder.iterdir() if f.suffix in (".safetensors", ".bin"))


def _load_weights(location: str, config: LoadConfig, data_dir: Path):
    from transformers import AutoModelForCausalLM

    device_map, dtype, quantization = plan_for_loading(location, config)
    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": device_map}
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    if "disk" in {str(d) for d in device_map.values()}:
        offload = Path(config.offload_dir or data_dir / "offload").expanduser()
        offload.mkdir(parents=True, exist_ok=True)
        kwargs["offload_folder"] = str(offload)
    try:
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except Exception as exc:  # transformers, accelerate and bitsandbytes raise many kinds
        cut = cut_short_weights(Path(location))
        raise ModelLoadError(cut or f"cannot load model from {location}: {one_line(exc)}") from exc
    return model.eval(), device_map


def _load_tokenizer(location: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(location)
    except Exception as exc:
        raise ModelLoadError(f"cannot load tokenizer from {location}: {one_line(exc)}") from exc


def _prepare_tokenizer(tokenizer) -> None:
    """Pad token (eos when missing) and left padding, since candidates are batched."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"


def _prepare_for_generation(model, tokenizer) -> None:
    _prepare_tokenizer(tokenizer)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def _input_device(model) -> str:
    """Where input ids should go: the device of the input embeddings."""
    device = model.get_input_embeddings().weight.device
    return "cpu" if device.type == "meta" else str(device)

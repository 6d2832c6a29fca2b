"""The model on the meta device: its config, dtype and bitsandbytes quantizer, its skeleton
without weights, and the device map transformers' own placement gives it.

`infer_device_map` is what both the planner and the loader call, so what `python -m engine plan`
prints is what loading does.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common.errors import one_line
from engine.load_values import (
    QUANTIZE_MODES,
    STRATEGIES,
    Device,
    ModelLoadError,
    canonical_dtype,
    check_choice,
)


def read_config(source: str | Path, *, gguf_file: str | None = None):
    """A transformers config from a config JSON, a model directory, a GGUF file or a hub id."""
    from transformers import AutoConfig

    path = Path(source).expanduser()
    try:
        with _quiet("transformers"):
            return _read_config(AutoConfig, path, source, gguf_file)
    except ModelLoadError:
        raise
    except Exception as exc:  # transformers raises many kinds; report one line
        raise ModelLoadError(f"cannot read a model config from {source}: {one_line(exc)}") from exc


def _read_config(auto_config, path: Path, source, gguf_file: str | None):
    if path.is_file() and path.suffix == ".json":
        raw = json.loads(path.read_text())
        model_type = raw.pop("model_type", None)
        if not model_type:
            raise ModelLoadError(f"config {path} has no model_type")
        return auto_config.for_model(model_type, **raw)
    if path.is_file() and path.suffix == ".gguf":
        return auto_config.from_pretrained(path.parent, gguf_file=path.name)
    return auto_config.from_pretrained(str(source), gguf_file=gguf_file)


def resolve_dtype(name: str, config) -> Any:
    """The torch dtype for `name`; "auto" takes the config's dtype, else float32."""
    import torch

    canonical = canonical_dtype(name)
    if canonical == "auto":
        stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        if isinstance(stored, str):
            stored = getattr(torch, stored, None)
        return stored if isinstance(stored, torch.dtype) else torch.float32
    return getattr(torch, canonical)


def bnb_config(quantize: str, dtype: Any, *, cpu_offload: bool = False):
    """The BitsAndBytesConfig for "8bit"/"4bit" (None for "none")."""
    check_choice(quantize, QUANTIZE_MODES, "quantize mode")
    if quantize == "none":
        return None
    from transformers import BitsAndBytesConfig

    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_enable_fp32_cpu_offload=cpu_offload)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        llm_int8_enable_fp32_cpu_offload=cpu_offload,
    )


def make_quantizer(quantize: str, dtype: Any, *, cpu_offload: bool = False):
    """The transformers quantizer object that loading would use, or None."""
    config = bnb_config(quantize, dtype, cpu_offload=cpu_offload)
    if config is None:
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError(
            f"--quantize {quantize} needs bitsandbytes; install it with pip install bitsandbytes"
        ) from exc
    from transformers.quantizers import AutoHfQuantizer

    return AutoHfQuantizer.from_config(config, pre_quantized=False)


@contextmanager
def _quiet(*names: str):
    """Silence library warnings about absent GPUs while planning for GPUs not present."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def build_skeleton(config, *, dtype: Any, quantizer=None, device_map: Any = "auto"):
    """The causal-LM skeleton for `config` on the meta device: no weights, no GPU.

    With a quantizer, linear layers become bitsandbytes layers, except those that
    `device_map` sends to the CPU or disk when the quantizer allows fp32 offload.
    """
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    # no_init_weights: random init is wasted work on the meta device (seconds for 100B models)
    with init_empty_weights(), no_init_weights(), _quiet("transformers"):
        try:
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot build a causal LM from this config: {one_line(exc)}"
            ) from exc
        if quantizer is not None:
            quantizer.preprocess_model(model=model, dtype=dtype, device_map=device_map)
    return model


def no_split_classes(model) -> list[str]:
    """Module classes that must stay whole on one device (decoder layers)."""
    return sorted(set(getattr(model, "_no_split_modules", None) or []))


def infer_device_map(
    model, *, strategy: str, max_memory: dict[Device, int] | None, quantizer=None
) -> dict[str, Device]:
    """The device map loading applies: transformers' own balanced/sequential placement.

    Args:
        model: A skeleton from `build_skeleton` (or any model with the same module names).
        strategy: One of `STRATEGIES`; "cpu" puts everything on the CPU.
        max_memory: Bytes per device (GPU index, "cpu", "disk"); None asks the machine.
        quantizer: The quantizer from `make_quantizer`, so 4-bit layers count half a byte
            per weight.
    """
    check_choice(strategy, STRATEGIES, "device map")
    if strategy == "cpu":
        return {"": "cpu"}
    from transformers.integrations import accelerate as hf_acc

    budget = None if max_memory is None else dict(max_memory)
    no_split = no_split_classes(model)
    with _quiet("accelerate", "accelerate.utils.modeling", "transformers"):
        if strategy == "sequential":
            budget = hf_acc.get_max_memory(budget)
        else:
            budget = hf_acc.get_balanced_memory(
                model,
                max_memory=budget,
                no_split_module_classes=no_split,
                hf_quantizer=quantizer,
                low_zero=strategy == "balanced_low_0",
            )
        if quantizer is not None:
            budget = quantizer.adjust_max_memory(budget)
        device_map = hf_acc.infer_auto_device_map(
            model, max_memory=budget, no_split_module_classes=no_split, hf_quantizer=quantizer
        )
    return dict(device_map)


def cpu_only_map(*, strategy: str, max_memory, checkpoint_bytes: int | None) -> dict | None:
    """`{"": "cpu"}` when planning can only end there, else None (plan properly).

    That is: no GPU or other accelerator, no budget given, and the checkpoint (doubled,
    in case the dtype widens) fits in 90% of the free RAM, as `infer_device_map` allows.
    Skipping the skeleton saves start-up time for small models on laptops.
    """
    import psutil
    import torch

    if strategy == "cpu":
        return {"": "cpu"}
    if max_memory is not None or checkpoint_bytes is None or torch.cuda.is_available():
        return None
    if torch.backends.mps.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available()):
        return None
    fits = 2 * checkpoint_bytes < 0.9 * psutil.virtual_memory().available
    return {"": "cpu"} if fits else None

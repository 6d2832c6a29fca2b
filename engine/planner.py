"""Device-map planning: where each layer of a model goes, decided on the meta device.

The planner builds the model skeleton from its config without any weights, applies the
loading rules (dtype, bitsandbytes 8-bit/4-bit element sizes, layers that must not be
split, tied weights, a memory budget per device, balanced or sequential placement) and
returns a `Plan`. The loader computes its device map with the same `infer_device_map`,
so what `python -m engine plan` prints is what loading does.
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.errors import one_line  # noqa: F401 - the product's one error formatter, used by engine modules

GiB = 1024**3
STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential", "cpu")
QUANTIZE_MODES = ("none", "8bit", "4bit")
DTYPE_ALIASES = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})


class ModelLoadError(ValueError):
    """A model cannot be planned or loaded; the message is one line for the user."""


Device = int | str


@dataclass
class Plan:
    """Where a model's modules go and whether that fits the memory given."""

    fits: bool
    device_map: dict[str, Device]
    bytes_per_device: dict[str, int]
    missing_bytes: int
    total_bytes: int
    capacity: dict[str, int]
    layers_per_device: dict[str, int]
    dtype: str
    quantize: str
    strategy: str
    model_type: str
    notes: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The machine-readable form printed by `plan --json`."""
        return {
            "fits": self.fits,
            "device_map": dict(self.device_map),
            "bytes_per_device": dict(self.bytes_per_device),
            "missing_bytes": self.missing_bytes,
            **{k: v for k, v in asdict(self).items() if k not in _JSON_HEAD},
        }


_JSON_HEAD = ("fits", "device_map", "bytes_per_device", "missing_bytes")


# --------------------------------------------------------------------------- parsing


def parse_size(text: str | int) -> int:
    """Bytes from "80GiB", "80GB", "512MiB" or a plain integer."""
    if isinstance(text, int):
        return text
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ModelLoadError(f"bad memory size {text!r}; use e.g. 80GiB, 24GB or 512MiB")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").upper()])


def parse_gpus(text: str) -> dict[int, int]:
    """GPU budget from "4x80GiB" (four equal GPUs) or "80GiB,40GiB" (one per GPU).

    Returns:
        A mapping from GPU index to bytes.
    """
    text = (text or "").strip()
    if not text or text in ("0", "none"):
        return {}
    if "x" in text.lower() and "," not in text:
        count, _, size = text.lower().partition("x")
        if not count.strip().isdigit() or int(count) < 1:
            raise ModelLoadError(f"bad --gpus {text!r}; use e.g. 4x80GiB or 80GiB,40GiB")
        return dict.fromkeys(range(int(count)), parse_size(size))
    return {i: parse_size(part) for i, part in enumerate(text.split(","))}


def parse_max_memory(text: str | None) -> dict[Device, int] | None:
    """Budget per device from "0=20GiB,1=20GiB,cpu=64GiB"; None for an empty string."""
    if not text or not text.strip():
        return None
    budget: dict[Device, int] = {}
    for part in text.split(","):
        key, sep, size = part.partition("=")
        key = key.strip().lower()
        if not sep or not (key.isdigit() or key in ("cpu", "disk", "mps")):
            raise ModelLoadError(
                f"bad --max-memory entry {part.strip()!r}; use e.g. 0=20GiB,1=20GiB,cpu=64GiB"
            )
        budget[int(key) if key.isdigit() else key] = parse_size(size)
    return budget


def canonical_dtype(name: str) -> str:
    """Canonical dtype name ("bf16" -> "bfloat16"); raises ModelLoadError for unknown names."""
    canonical = DTYPE_ALIASES.get((name or "auto").lower())
    if canonical is None:
        raise ModelLoadError(
            f"unknown dtype {name!r}; choose from auto, float32, bfloat16, float16"
        )
    return canonical


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """Return `value` if it is one of `choices`, else raise a one-line ModelLoadError."""
    if value not in choices:
        raise ModelLoadError(f"unknown {what} {value!r}; choose from {', '.join(choices)}")
    return value


# --------------------------------------------------------------------------- configs


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


# --------------------------------------------------------------------------- skeleton


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


# --------------------------------------------------------------------------- summary


def device_of(name: str, device_map: dict[str, Device]) -> Device:
    """The device of a module or parameter: its longest prefix in `device_map`."""
    while True:
        if name in device_map:
            return device_map[name]
        if not name:
            raise KeyError(f"{name!r} has no device in the map")
        name = name.rpartition(".")[0]


def bytes_per_device(model, device_map: dict[str, Device], quantizer=None) -> dict[str, int]:
    """Bytes of weights and buffers each device holds (tied weights counted once)."""
    from transformers.integrations.accelerate import compute_module_sizes

    _, leaves = compute_module_sizes(model, quantizer)
    totals: dict[str, int] = {}
    for leaf, size in leaves.items():
        key = str(device_of(leaf, device_map))
        totals[key] = totals.get(key, 0) + int(size)
    return dict(sorted(totals.items(), key=lambda kv: _device_order(kv[0])))


def layers_per_device(model, device_map: dict[str, Device]) -> dict[str, int]:
    """How many no-split layers (decoder blocks) each device holds."""
    classes = set(no_split_classes(model))
    counts: dict[str, int] = {}
    for name, module in model.named_modules():
        if type(module).__name__ in classes:
            key = str(device_of(name, device_map))
            counts[key] = counts.get(key, 0) + 1
    return counts


def _device_order(key: str) -> tuple[int, int]:
    if key.isdigit():
        return (0, int(key))
    return ({"mps": 1, "cpu": 2, "disk": 3}.get(key, 4), 0)


def plan(
    *,
    config,
    max_memory: dict[Device, int] | None,
    strategy: str = "auto",
    dtype: str = "auto",
    quantize: str = "none",
) -> Plan:
    """Plan where a model goes; nothing is loaded and no GPU is touched.

    Args:
        config: A transformers config or a path to a config JSON.
        max_memory: Bytes per device, e.g. `{0: 80 * GiB, "cpu": 0}`; None asks the machine.
        strategy: auto | balanced | balanced_low_0 | sequential | cpu.
        dtype: auto | float32 | bfloat16 | float16 (aliases fp32, bf16, fp16).
        quantize: none | 8bit | 4bit (bitsandbytes).

    Returns:
        A Plan. `fits` is False when layers are left for the disk or a device is over
        budget; `missing_bytes` is the memory to add: the bytes left for the disk, or
        for quantized models whose offloaded layers overflow (bitsandbytes keeps those
        unquantized), the quantized bytes that did not fit on the GPUs.
    """
    if not hasattr(config, "model_type"):
        config = read_config(config)
    torch_dtype = resolve_dtype(dtype, config)
    quantizer = make_quantizer(quantize, torch_dtype)
    model = build_skeleton(config, dtype=torch_dtype, quantizer=quantizer)
    device_map = infer_device_map(
        model, strategy=strategy, max_memory=max_memory, quantizer=quantizer
    )
    capacity = {str(k): int(v) for k, v in (max_memory or {}).items()}
    per_device = bytes_per_device(model, device_map, quantizer)
    missing, notes = missing_bytes(per_device, capacity), _notes(device_map)
    if quantizer is not None and needs_offload(device_map):
        # as loading does: offloaded layers stay unquantized, so size them again
        off_gpu = sum(size for device, size in per_device.items() if not device.isdigit())
        quantizer = make_quantizer(quantize, torch_dtype, cpu_offload=True)
        model = build_skeleton(
            config, dtype=torch_dtype, quantizer=quantizer, device_map=device_map
        )
        per_device = bytes_per_device(model, device_map, quantizer)
        short = missing_bytes(per_device, capacity)
        missing = off_gpu if short else 0  # more GPU memory keeps every layer quantized
        notes.append("bitsandbytes keeps offloaded layers unquantized (sized so above)")
        if short:
            notes.append(
                f"missing counts the GPU memory that keeps every layer {quantize}; "
                f"or add {short / GiB:.2f} GiB of CPU RAM instead"
            )
    return Plan(
        fits=missing == 0,
        device_map=device_map,
        bytes_per_device=per_device,
        missing_bytes=missing,
        total_bytes=sum(per_device.values()),
        capacity=capacity,
        layers_per_device=layers_per_device(model, device_map),
        dtype=str(torch_dtype).removeprefix("torch."),
        quantize=quantize,
        strategy=strategy,
        model_type=config.model_type,
        notes=notes,
    )


def needs_offload(device_map: dict[str, Device]) -> bool:
    """True if some but not all modules go to the CPU or disk."""
    devices = {str(d) for d in device_map.values()}
    return bool(devices & {"cpu", "disk"}) and devices != {"cpu"}


def missing_bytes(per_device: dict[str, int], capacity: dict[str, int]) -> int:
    """Bytes left for the disk plus any device filled past its budget."""
    over = sum(max(0, size - capacity[d]) for d, size in per_device.items() if d in capacity)
    return per_device.get("disk", 0) + over


def _notes(device_map: dict[str, Device]) -> list[str]:
    devices = {str(d) for d in device_map.values()}
    notes = []
    if "cpu" in devices and devices != {"cpu"}:
        notes.append("some layers run on the CPU: slower than on a GPU")
    if "disk" in devices:
        notes.append("layers on disk need --offload-dir and are read back for every token")
    return notes

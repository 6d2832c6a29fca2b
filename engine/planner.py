"""Device-map planning: where each layer of a model goes, decided on the meta device.

The planner builds the model skeleton from its config without any weights, applies the
loading rules (dtype, bitsandbytes 8-bit/4-bit element sizes, layers that must not be
split, tied weights, a memory budget per device, balanced or sequential placement) and
returns a `Plan`. The loader computes its device map with the same `infer_device_map`,
so what `python -m engine plan` prints is what loading does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from common.errors import one_line  # noqa: F401 - the product's one error formatter, used by engine modules
from engine.load_values import (  # noqa: F401 - re-exported: the planner's inputs
    DTYPE_ALIASES,
    QUANTIZE_MODES,
    STRATEGIES,
    Device,
    GiB,
    ModelLoadError,
    canonical_dtype,
    check_choice,
    parse_gpus,
    parse_max_memory,
    parse_size,
)
from engine.skeleton import (  # noqa: F401 - re-exported: the meta-device steps loading shares
    bnb_config,
    build_skeleton,
    cpu_only_map,
    infer_device_map,
    make_quantizer,
    no_split_classes,
    read_config,
    resolve_dtype,
)


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
    sizing = _Sizing.of(model, device_map, quantizer, capacity)
    if quantizer is not None and needs_offload(device_map):
        sizing = _resize_unquantized_offload(sizing, config=config, dtype=torch_dtype, quantize=quantize,
                                             device_map=device_map, capacity=capacity)
    return Plan(
        fits=sizing.missing == 0,
        device_map=device_map,
        bytes_per_device=sizing.per_device,
        missing_bytes=sizing.missing,
        total_bytes=sum(sizing.per_device.values()),
        capacity=capacity,
        layers_per_device=layers_per_device(sizing.model, device_map),
        dtype=str(torch_dtype).removeprefix("torch."),
        quantize=quantize,
        strategy=strategy,
        model_type=config.model_type,
        notes=sizing.notes,
    )


@dataclass(frozen=True)
class _Sizing:
    """The bytes a device map puts on each device, measured on one skeleton."""

    model: Any  # the skeleton measured
    per_device: dict[str, int]
    missing: int
    notes: list[str]

    @classmethod
    def of(cls, model, device_map: dict[str, Device], quantizer, capacity: dict[str, int]) -> _Sizing:
        per_device = bytes_per_device(model, device_map, quantizer)
        return cls(model, per_device, missing_bytes(per_device, capacity), _notes(device_map))


def _resize_unquantized_offload(first: _Sizing, *, config, dtype: Any, quantize: str, device_map: dict[str, Device],
                                capacity: dict[str, int]) -> _Sizing:
    """Size again as loading does: offloaded layers stay unquantized. Missing then counts the GPU
    memory that keeps every layer quantized."""
    off_gpu = sum(size for device, size in first.per_device.items() if not device.isdigit())
    quantizer = make_quantizer(quantize, dtype, cpu_offload=True)
    model = build_skeleton(config, dtype=dtype, quantizer=quantizer, device_map=device_map)
    per_device = bytes_per_device(model, device_map, quantizer)
    short = missing_bytes(per_device, capacity)
    notes = [*first.notes, "bitsandbytes keeps offloaded layers unquantized (sized so above)"]
    if short:
        notes.append(
            f"missing counts the GPU memory that keeps every layer {quantize}; "
            f"or add {short / GiB:.2f} GiB of CPU RAM instead"
        )
    return _Sizing(model, per_device, off_gpu if short else 0, notes)


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

"""`python -m engine plan`: will a model fit these GPUs? Answered on the meta device."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.planner import (
    DTYPE_ALIASES,
    QUANTIZE_MODES,
    STRATEGIES,
    GiB,
    Plan,
    parse_gpus,
    parse_size,
    plan,
    read_config,
)

DESCRIPTION = """\
Build the model's skeleton on the meta device (no weights loaded, no GPU needed),
place its layers with the same rules as loading, and report the device map, the
bytes per device and whether it fits."""

EPILOG = """examples:
  python -m engine plan --config assets/configs/llama-70b.json --gpus 4x80GiB --dtype bf16
  python -m engine plan --config assets/configs/gpt3-175b.json --gpus 8x80GiB --quantize 4bit
  python -m engine plan --config HuggingFaceTB/SmolLM2-1.7B --gpus 24GiB --cpu-memory 64GiB --json

exit status: 0 when the model fits, 1 when it does not, 2 on bad input."""


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `plan` sub-command."""
    parser = subparsers.add_parser(
        "plan",
        help="show how a model would be spread over GPUs, CPU and disk (no weights loaded)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        required=True,
        metavar="CONFIG.json|MODEL",
        help="a config JSON (see assets/configs/), a local model directory, a .gguf file, "
        "the default model's name, or a hub id (only its config is fetched)",
    )
    parser.add_argument(
        "--gpus",
        default="",
        metavar="NxSIZE",
        help="GPU memory: '4x80GiB' (four equal GPUs) or '80GiB,40GiB' (one per GPU). "
        "Default: none (CPU only)",
    )
    parser.add_argument(
        "--cpu-memory",
        default="0",
        metavar="SIZE",
        help="CPU RAM that may hold offloaded layers, e.g. 64GiB. Default: 0 "
        "(everything must fit on the GPUs)",
    )
    parser.add_argument(
        "--device-map",
        default="auto",
        choices=[s for s in STRATEGIES if s != "cpu"],
        help="placement strategy, as for loading. Default: auto (balanced over GPUs)",
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=list(DTYPE_ALIASES),
        help="weight dtype (auto: the config's, else float32). Default: auto",
    )
    parser.add_argument(
        "--quantize",
        default="none",
        choices=QUANTIZE_MODES,
        help="bitsandbytes quantization: 8bit = 1 byte, 4bit = half a byte per linear "
        "weight; embeddings and the output head stay in --dtype. Default: none",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"fits", "device_map", "bytes_per_device", "missing_bytes", ...} as JSON',
    )
    parser.set_defaults(func=run_plan)
    return parser


def plan_model(
    *,
    source: str,
    gpus: str,
    cpu_memory: str = "0",
    device_map: str = "auto",
    dtype: str = "auto",
    quantize: str = "none",
) -> Plan:
    """Plan `source` (a config JSON or any `--model` value) on the given memory.

    Args:
        source: Config JSON path, model directory, .gguf file, default name or hub id.
        gpus: GPU memory as accepted by `parse_gpus` ("4x80GiB").
        cpu_memory: CPU RAM for offloaded layers ("64GiB"; "0" for none).
        device_map: auto | balanced | balanced_low_0 | sequential.
        dtype: Weight dtype name.
        quantize: none | 8bit | 4bit.
    """
    max_memory: dict[int | str, int] = {**parse_gpus(gpus), "cpu": parse_size(cpu_memory)}
    return plan(
        config=config_for(source),
        max_memory=max_memory,
        strategy=device_map,
        dtype=dtype,
        quantize=quantize,
    )


def config_for(source: str):
    """The transformers config of a config JSON or of any model `--model` accepts."""
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".json":
        return read_config(path)
    from engine import loading, paths

    resolved = loading.resolve_model(source)
    if resolved.kind == "gguf":  # the converted copy's config.json is quicker to read
        gguf = Path(resolved.location)
        cache = loading.gguf_cache_dir(gguf, paths.data_dir())
        if loading.cache_is_fresh(cache, gguf):
            return read_config(cache)
    return read_config(resolved.location)


def run_plan(args: argparse.Namespace) -> int:
    """Entry point of `plan`: prints the plan; exit status 0 if it fits, else 1."""
    result = plan_model(
        source=args.config,
        gpus=args.gpus,
        cpu_memory=args.cpu_memory,
        device_map=args.device_map,
        dtype=args.dtype,
        quantize=args.quantize,
    )
    if args.json:
        print(json.dumps(result.to_json_dict(), indent=1, default=str))
    else:
        print(format_plan(result))
    return 0 if result.fits else 1


def format_plan(result: Plan) -> str:
    """The human table: one row per device with layers, bytes and budget, then the verdict."""
    quant = "no quantization" if result.quantize == "none" else f"{result.quantize} bitsandbytes"
    lines = [
        f"{result.model_type} in {result.dtype}, {quant}, device map {result.strategy}",
        f"{'device':<8} {'layers':>6} {'weights':>12} {'budget':>12}",
    ]
    for device, size in result.bytes_per_device.items():
        budget = result.capacity.get(device)
        lines.append(
            f"{_device_label(device):<8} {result.layers_per_device.get(device, 0):>6} "
            f"{_gib(size):>12} {_gib(budget) if budget is not None else '-':>12}"
        )
    layers = sum(result.layers_per_device.values())
    lines.append(f"{'total':<8} {layers:>6} {_gib(result.total_bytes):>12}")
    lines.append(verdict(result))
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)


def verdict(result: Plan) -> str:
    """One line: fits (where), or does not fit and by how much."""
    if not result.fits:
        return f"does not fit: missing {_gib(result.missing_bytes)}"
    on_cpu = result.layers_per_device.get("cpu", 0)
    if result.bytes_per_device.get("cpu") and len(result.bytes_per_device) > 1:
        return f"fits, with {on_cpu} layers offloaded to the CPU"
    return "fits on the CPU" if "cpu" in result.bytes_per_device else "fits on the GPUs"


def _device_label(device: str) -> str:
    return f"gpu {device}" if device.isdigit() else device


def _gib(size: int | None) -> str:
    return "-" if size is None else f"{size / GiB:.2f} GiB"

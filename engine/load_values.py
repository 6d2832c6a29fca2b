"""The values loading and planning take, parsed and checked: memory sizes and per-device
budgets, dtype names, device-map strategies and quantize modes; `ModelLoadError` is the
one-line error a bad value (or a model that cannot be planned or loaded) raises.
"""

from __future__ import annotations

import re

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


Device = int | str  # a GPU index, or "cpu", "disk", "mps"


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

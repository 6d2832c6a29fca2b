"""How to load a model: `LoadConfig`, its named presets and the loading flags every command shares."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from engine.backends import BACKENDS
from engine.load_values import (
    DTYPE_ALIASES,
    QUANTIZE_MODES,
    STRATEGIES,
    ModelLoadError,
    canonical_dtype,
    check_choice,
    parse_max_memory,
)
from engine.model_source import DEFAULT_MODEL, TINY_MODEL


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
    backend: str = "auto"  # auto (llama-cpp where it loads, else torch) | torch | llama-cpp | vllm
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
    _add_model_flag(group)
    _add_placement_flags(group)
    _add_backend_flags(group)
    return parser


def _add_model_flag(group) -> None:
    """--model: which model to load."""
    group.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help=f"model to load: '{DEFAULT_MODEL}' (default, shipped offline as GGUF), "
        f"'{TINY_MODEL}' (a tiny random model for tests), a local model directory, "
        "a .gguf file, or a Hugging Face hub id (downloaded only when named)",
    )


def _add_placement_flags(group) -> None:
    """Where the weights go and in what form: --device-map, --max-memory, --dtype, --offload-dir, --quantize."""
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


def _add_backend_flags(group) -> None:
    """What runs the model: --adapter, --backend, --server-url, --served-model."""
    group.add_argument(
        "--adapter",
        default="auto",
        metavar="PATH|none",
        help="trained adapter to apply (a folder written by `engine train`), or none. Default: the "
        "adapter shipped in assets/adapters/ with the default model, none with other models",
    )
    group.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="what runs the model: auto (default: llama-cpp for a .gguf model on a machine without a GPU, "
        "torch when llama.cpp cannot load it, with a log line saying why), torch (in this process, "
        "transformers + accelerate), llama-cpp (the GGUF file on the CPU, several times faster) or vllm "
        "(a vLLM server, see --server-url)",
    )
    group.add_argument("--server-url", default=None, metavar="URL",
                       help="vllm backend: the server's OpenAI API, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--served-model", default=None, metavar="NAME",
                       help="vllm backend: the model name to request (default: the adapter's name when one "
                       "applies, else cntrl-default, as scripts/serve_vllm.sh serves them)")


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
        backend=getattr(args, "backend", None) or "auto",
        server_url=getattr(args, "server_url", None),
        served_model=getattr(args, "served_model", None),
    )

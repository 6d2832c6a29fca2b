"""Write a peft LoRA adapter as a GGUF LoRA file that llama.cpp applies at load.

llama.cpp names tensors by its own scheme (`blk.N.attn_q.weight`) and stores the query
and key projections of Llama-family models with their rows permuted for its rotary
layout. A LoRA update is B @ A, so the same permutation applies to the rows of B. The
result is cached next to the converted model and rebuilt when the adapter changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from engine.planner import ModelLoadError

MODULES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_NAME = re.compile(r"layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.weight$")


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for a rotary projection with `n_head` heads: (out, ...) -> (out, ...)."""
    out = weights.shape[0]
    return weights.reshape(n_head, 2, out // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def adapter_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def lora_to_gguf(folder: str | Path, model_config: dict, out: str | Path) -> Path:
    """Write the peft adapter in `folder` (for a model with `model_config`) as GGUF LoRA `out`."""
    import gguf
    from safetensors.numpy import load_file

    folder, out = Path(folder), Path(out)
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type") != "LORA":
        raise ModelLoadError(f"{folder} is not a LoRA adapter; llama.cpp takes LoRA only (or merge it first)")
    n_head = int(model_config["num_attention_heads"])
    n_kv = int(model_config.get("num_key_value_heads") or n_head)
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    writer_path = out.with_suffix(".tmp")
    writer = gguf.GGUFWriter(str(writer_path), arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config.get("lora_alpha", config.get("r", 8))))
    written = 0
    for name in sorted(tensors):
        match = _NAME.search(name)
        if match is None:
            raise ModelLoadError(f"{folder}: cannot map adapter tensor {name} to llama.cpp")
        layer, module, part = match.groups()
        array = tensors[name].astype(np.float32)  # A: (r, in); B: (out, r)
        if part == "B" and module == "self_attn.q_proj":
            array = permute_rows(array, n_head)
        elif part == "B" and module == "self_attn.k_proj":
            array = permute_rows(array, n_kv)
        writer.add_tensor(f"blk.{layer}.{MODULES[module]}.weight.lora_{part.lower()}", np.ascontiguousarray(array))
        written += 1
    if not written:
        raise ModelLoadError(f"{folder} holds no LoRA tensors")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    writer_path.replace(out)
    return out


def cached_gguf_lora(folder: str | Path, model_dir: str | Path) -> Path:
    """The GGUF LoRA of `folder` for the converted model in `model_dir`, written once per adapter version."""
    folder, model_dir = Path(folder), Path(model_dir)
    model_config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    out = model_dir / f"lora-{folder.name}-{adapter_fingerprint(folder)}.gguf"
    if not out.is_file():
        lora_to_gguf(folder, model_config, out)
    return out

"""Checkpoints that resume exactly, and the adapter in peft's own format.

A checkpoint holds the trainable weights, the optimizer and scheduler states, each
process's random-number states and the run's position (`TrainState`). It is written to
a temporary folder and renamed, so a run killed while saving keeps the previous one.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch

ADAPTER_MANIFEST = "cntrl-adapter.json"


def trainable_state(model, full: bool) -> dict[str, torch.Tensor]:
    """The weights training changes: every weight with `full`, else the LoRA weights."""
    if full:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {k: v.detach().cpu().clone() for k, v in model.named_parameters() if v.requires_grad}


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(folder: Path, *, model, optimizer, scheduler, state: dict, rank: int, main: bool, full: bool) -> None:
    """Write the checkpoint (weights and optimizer by the main process, RNG by every process)."""
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".new")
    if main:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        torch.save(trainable_state(model, full), staging / "weights.pt")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, staging / "optimizer.pt")
        (staging / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
    _barrier()
    torch.save(rng_state(), staging / f"rng-{rank}.pt")
    _barrier()
    if main:
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    _barrier()


def load_checkpoint(folder: Path, *, model, optimizer, scheduler, rank: int) -> dict | None:
    """Restore a checkpoint written by `save_checkpoint`; the saved TrainState as a dict, or None."""
    folder = Path(folder)
    if not (folder / "state.json").is_file():
        return None
    weights = torch.load(folder / "weights.pt", map_location="cpu")
    missing = set(weights) - set(model.state_dict())
    if missing:
        raise ValueError(f"checkpoint {folder} does not fit this model ({len(missing)} unknown weights)")
    model.load_state_dict(weights, strict=False)
    saved = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    rng_file = folder / f"rng-{rank}.pt"
    if rng_file.is_file():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


def save_adapter(model, tokenizer, folder: Path, *, full: bool, manifest: dict | None = None) -> None:
    """The trained weights: a peft adapter folder (or a whole model with `full`) plus a manifest."""
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    if full:
        tokenizer.save_pretrained(staging)
    info = {"format": 1, "prompt_style": "cntrl", "full": full, **(manifest or {})}
    config_file = staging / "adapter_config.json"
    if config_file.is_file() and info.get("base_model"):  # name the base model, not this machine's path to it
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = info["base_model"]
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    (staging / "README.md").unlink(missing_ok=True)  # peft's template card
    (staging / ADAPTER_MANIFEST).write_text(json.dumps(info, indent=1), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()

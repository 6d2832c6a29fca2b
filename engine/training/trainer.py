"""The trainer: LoRA (or full) fine-tuning of the CNTRL stages on accelerate.

AdamW with weight decay, linear warm-up then cosine (or linear) decay, gradient
clipping by norm, dropout, gradient accumulation, mixed precision where the hardware
has it, periodic validation with early stopping, checkpoints that resume exactly, a
time budget, and metrics in a JSONL file. Under `accelerate launch` (or torchrun) each
process takes its slice of every global batch, so a data-parallel run follows the
same losses as one process with the same global batch.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from engine.training.batches import (
    batch_stream,
    collate,
    micro_batches,
    model_inputs,
    per_example_loss,
    rank_slice,
)
from engine.training.checkpoint import load_checkpoint, save_adapter, save_checkpoint
from engine.training.data import Encoded

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; `batch_size` is the global batch (all processes, all micro-steps)."""

    full: bool = False  # full fine-tuning instead of LoRA
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    schedule: str = "cosine"  # cosine | linear
    min_lr_ratio: float = 0.1
    batch_size: int = 8
    micro_batch_size: int = 8
    max_steps: int = 1000
    clip_norm: float = 1.0
    eval_every: int = 100
    eval_examples: int = 200
    patience: int = 4  # evaluations without improvement before stopping
    save_every: int = 50
    max_minutes: float | None = None
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16
    seed: int = 0
    init_adapter: str | None = None  # start LoRA from this peft adapter folder instead of fresh weights
    keyword_weight: float = 1.0  # loss weight of the target tokens that spell the sentence's keyword
    per_sentence: bool = False  # one sequence per example instead of whole stories packed per sequence
    story_weight: float = 1.0  # packed stories: loss weight of the story's own sentence tokens

    @classmethod
    def from_name(cls, name: str, **overrides) -> TrainConfig:
        presets = {
            "default": {},
            "tiny": {"lora_r": 4, "lora_alpha": 8, "lr": 1e-2, "warmup_steps": 3, "batch_size": 4, "micro_batch_size": 2,
                     "max_steps": 30, "eval_every": 10, "eval_examples": 8, "save_every": 10},
        }
        if name not in presets:
            raise ValueError(f"unknown training preset {name!r}; choose from {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})


@dataclass
class TrainState:
    """What a checkpoint holds besides weights and optimizer: where the run is."""

    step: int = 0
    best_val: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    tokens: int = 0
    seconds: float = 0.0
    stopped: str = ""  # why the run ended: max_steps | early_stop | max_minutes | paused


@dataclass
class TrainResult:
    state: TrainState
    losses: list[float] = field(default_factory=list)  # training loss of each step run here
    out_dir: Path | None = None


def lr_lambda(config: TrainConfig) -> Callable[[int], float]:
    """Multiplier of the peak learning rate at each step: linear warm-up, then decay to min_lr_ratio."""

    def scale(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / max(1, config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if config.schedule == "cosine" else 1 - progress
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * shape

    if config.schedule not in ("cosine", "linear"):
        raise ValueError(f"unknown schedule {config.schedule!r}; choose cosine or linear")
    return scale


def mixed_precision_mode(requested: str) -> str:
    """bf16 on a GPU that has it, fp16 on other GPUs, none on CPU, unless told otherwise."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def wrap_model(model, config: TrainConfig):
    """The model with LoRA adapters on every projection (or all weights trainable with `full`)."""
    if config.full and config.init_adapter:
        raise ValueError("--init-adapter starts LoRA training; it cannot be combined with --full")
    if config.full:
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, PeftModel, get_peft_model

    if config.init_adapter:
        return PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True)
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in present] or ["c_attn", "c_proj"]
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def make_optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and norm weights."""
    decay, plain = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (plain if p.ndim < 2 or "norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, betas=(0.9, 0.95), eps=1e-8)


class Trainer:
    """Runs `TrainConfig` on encoded examples; `run()` returns when a stop condition holds."""

    def __init__(self, model, tokenizer, train: list[Encoded], val: list[Encoded], *, config: TrainConfig,
                 out_dir: Path, log: Callable[[dict], None] | None = None, progress: bool = True,
                 manifest: dict | None = None):
        from accelerate import Accelerator

        self.config = config
        self.accelerator = Accelerator(mixed_precision=mixed_precision_mode(config.mixed_precision),
                                       cpu=not torch.cuda.is_available())
        world = self.accelerator.num_processes
        if config.batch_size % (world * config.micro_batch_size):
            raise ValueError(f"batch size {config.batch_size} is not a multiple of {world} processes x "
                             f"micro-batch {config.micro_batch_size}")
        self.accum = config.batch_size // (world * config.micro_batch_size)
        self.tokenizer, self.train, self.val = tokenizer, train, val
        self.out_dir = Path(out_dir)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        torch.manual_seed(config.seed)
        self.model = wrap_model(model, config)
        self.model.train()
        optimizer = make_optimizer(self.model, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))  # stepped here, once per step
        self.model, self.optimizer = self.accelerator.prepare(self.model, optimizer)
        self.state = TrainState()
        self.log = log or (lambda record: None)
        self.show_progress = progress and self.accelerator.is_main_process
        self.manifest = manifest or {}

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.unwrapped.parameters()).dtype

    @property
    def unwrapped(self):
        return self.accelerator.unwrap_model(self.model)

    def resume(self) -> bool:
        """Load the last checkpoint in `out_dir` when there is one; True if it did."""
        found = load_checkpoint(self.out_dir / "checkpoint", model=self.unwrapped, optimizer=self.optimizer,
                                scheduler=self.scheduler, rank=self.accelerator.process_index)
        if found is not None:
            self.state = TrainState(**{**found, "stopped": ""})
        return found is not None

    def _micro_loss(self, indices: list[int], scale: float) -> tuple[torch.Tensor, int]:
        batch = collate([self.train[i] for i in indices], self.pad_id)
        batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
        with self.accelerator.autocast():
            logits = self.model(**model_inputs(batch, self._dtype)).logits  # (B, T, V)
        loss = per_example_loss(logits, batch["labels"], batch["weights"]).mean() * scale
        return loss, int(batch["attention_mask"].sum())

    def train_step(self, batch: list[int]) -> float:
        """One optimizer step over this process's slice of a global batch; the mean loss of all processes."""
        mine = rank_slice(batch, self.accelerator.process_index, self.accelerator.num_processes)
        parts = micro_batches(mine, self.config.micro_batch_size)
        total, tokens = torch.zeros((), device=self.accelerator.device), 0
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            with self.accelerator.no_sync(self.model) if not last else nullcontext():
                loss, n = self._micro_loss(part, 1.0 / len(parts))
                self.accelerator.backward(loss)
            total += loss.detach()
            tokens += n
        if self.config.clip_norm > 0:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.tokens += int(self.accelerator.reduce(torch.tensor(tokens, device=self.accelerator.device), "sum"))
        return float(self.accelerator.reduce(total, "mean"))

    @torch.no_grad()
    def validate(self) -> float:
        """Mean per-example loss on (up to `eval_examples` of) the validation examples, all processes."""
        self.model.eval()
        items = self.val[: self.config.eval_examples]
        mine = items[self.accelerator.process_index :: self.accelerator.num_processes]
        total = torch.zeros(2, device=self.accelerator.device)
        for start in range(0, len(mine), self.config.micro_batch_size):
            batch = collate(mine[start : start + self.config.micro_batch_size], self.pad_id)
            batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
            with self.accelerator.autocast():
                logits = self.model(**model_inputs(batch, self._dtype)).logits  # (B, T, V)
            losses = per_example_loss(logits, batch["labels"])
            total += torch.stack([losses.sum(), torch.tensor(float(len(losses)), device=losses.device)])
        self.model.train()
        total = self.accelerator.reduce(total, "sum")
        return float(total[0] / total[1].clamp(min=1))

    def _evaluate_and_maybe_stop(self) -> bool:
        val = self.validate()
        improved = val < self.state.best_val - 1e-4
        if improved:
            self.state.best_val, self.state.best_step, self.state.bad_evals = val, self.state.step, 0
            if self.accelerator.is_main_process:
                save_adapter(self.unwrapped, self.tokenizer, self.out_dir / "adapter", full=self.config.full,
                             manifest={**self.manifest, "step": self.state.step, "val_loss": val,
                                       "tokens_seen": self.state.tokens})
        else:
            self.state.bad_evals += 1
        self.log({"step": self.state.step, "val_loss": val, "best_val": self.state.best_val, "improved": improved})
        return self.state.bad_evals >= self.config.patience

    def _checkpoint(self) -> None:
        self.accelerator.wait_for_everyone()
        save_checkpoint(self.out_dir / "checkpoint", model=self.unwrapped, optimizer=self.optimizer,
                        scheduler=self.scheduler, state=asdict(self.state), rank=self.accelerator.process_index,
                        main=self.accelerator.is_main_process, full=self.config.full)
        self.accelerator.wait_for_everyone()

    def run(self, until_step: int | None = None) -> TrainResult:
        """Train until max_steps, early stopping or the time budget; checkpoints on the way and at the end.

        Args:
            until_step: pause after this step (with a checkpoint), as a run killed there would.
        """
        from tqdm.auto import tqdm

        config, result = self.config, TrainResult(self.state, out_dir=self.out_dir)
        lengths = getattr(self.train, "lengths", None) or [len(e.input_ids) for e in self.train]
        started, base_seconds = time.perf_counter(), self.state.seconds
        self._started = started
        bar = tqdm(total=config.max_steps, initial=self.state.step, disable=not self.show_progress, desc="train")
        stream = batch_stream(lengths, batch_size=config.batch_size, seed=config.seed, start_step=self.state.step)
        while self.state.step < config.max_steps:
            epoch, batch = next(stream)
            loss = self.train_step(batch)
            self.state.step += 1
            self.state.seconds = base_seconds + time.perf_counter() - started
            result.losses.append(loss)
            lr = self.scheduler.get_last_lr()[0]
            rate = self.state.tokens / max(self.state.seconds, 1e-9)
            self.log({"step": self.state.step, "epoch": epoch, "loss": loss, "lr": lr, "tokens": self.state.tokens,
                      "tokens_per_s": rate, "seconds": self.state.seconds})
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{rate:.0f}")
            if self._should_stop():
                break
            if until_step is not None and self.state.step >= until_step:
                self.state.stopped = "paused"
                break
            if self.state.step % config.save_every == 0:
                self._checkpoint()
        self.state.stopped = self.state.stopped or "max_steps"
        if self.state.stopped not in ("early_stop", "paused") and (self.state.best_step == 0 or self.state.step % config.eval_every):
            self._evaluate_and_maybe_stop()  # the adapter reflects the last step when it is the best
        self._checkpoint()
        bar.close()
        return result

    def _should_stop(self) -> bool:
        config = self.config
        if self.state.step % config.eval_every == 0 and self._evaluate_and_maybe_stop():
            self.state.stopped = "early_stop"
            return True
        if config.max_minutes is not None and time.perf_counter() - self._started > 60 * config.max_minutes:
            self.state.stopped = "max_minutes"
            return True
        return False


def jsonl_logger(path: Path, main: bool) -> Callable[[dict], None]:
    """Append each record to `path` as one JSON line (main process only)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def log(record: dict) -> None:
        if main:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    return log

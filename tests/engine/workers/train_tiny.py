"""Train a tiny random model for a few steps and write the losses as JSON (run directly or under torchrun).

    python tests/engine/workers/train_tiny.py OUT.json [--micro-batch-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


def tiny_examples():
    from engine.training.data import Example

    names = ["tom", "mary"]
    things = ["phone", "car", "dog", "cat", "tire", "store"]
    out = []
    for i in range(48):
        who, what = names[i % 2], things[i % len(things)]
        out.append(Example("sentence", f"{who} had a {what}.", (), (what,), (), f"then the {what} was lost."))
    return out


def train(micro_batch_size: int, steps: int = 12, out_dir: str | None = None, until: int | None = None, resume=False,
          full: bool = False, init_adapter: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.testing import save_tiny_llama
    from engine.training.data import encode
    from engine.training.trainer import TrainConfig, Trainer

    work = Path(out_dir or tempfile.mkdtemp())
    path = work / f"model-{os.environ.get('RANK', '0')}"  # each process writes its own (identical) copy
    if not (path / "config.json").is_file():
        save_tiny_llama(path, seed=0)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    encoded = [encode(tokenizer, e, max_tokens=64) for e in tiny_examples()]
    config = TrainConfig.from_name("tiny", batch_size=4, micro_batch_size=micro_batch_size, max_steps=steps,
                                   eval_every=1000, save_every=5, lora_dropout=0.0 if until is None else 0.1,
                                   full=full, init_adapter=init_adapter, **({"lr": 3e-3} if full else {}))
    trainer = Trainer(model, tokenizer, encoded[:40], encoded[40:], config=config, out_dir=work / "run", progress=False)
    if resume:
        trainer.resume()
    result = trainer.run(until_step=until)
    return result.losses, trainer.accelerator


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--micro-batch-size", type=int, default=2)
    args = parser.parse_args()
    losses, accelerator = train(args.micro_batch_size, out_dir=args.out + ".work")
    if accelerator.is_main_process:
        Path(args.out).write_text(json.dumps({"losses": losses, "world": accelerator.num_processes,
                                              "distributed": str(accelerator.distributed_type)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

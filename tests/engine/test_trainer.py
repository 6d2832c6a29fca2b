"""The trainer on a tiny random model: the loss falls, a resume reproduces the uninterrupted
losses, the schedule has its shape, and 2 data-parallel CPU processes match one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.training.trainer import TrainConfig, lr_lambda
from tests.engine.workers.train_tiny import train

WORKER = Path(__file__).parent / "workers" / "train_tiny.py"


@pytest.mark.parametrize(("full", "ratio"), [(True, 0.6), (False, 0.95)])
def test_tiny_model_trains_30_steps_and_its_loss_falls(tmp_path, full, ratio):
    """Full fine-tuning of the random model learns fast; LoRA on random weights learns slowly, but learns."""
    losses, _ = train(micro_batch_size=2, steps=30, out_dir=str(tmp_path), full=full)
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < ratio * first, (first, last)
    assert (tmp_path / "run" / "adapter" / ("config.json" if full else "adapter_config.json")).is_file()
    assert (tmp_path / "run" / "checkpoint" / "state.json").is_file()


def test_training_can_start_from_a_saved_adapter(tmp_path):
    """A second run from the first run's adapter begins where the first ended, not at the fresh loss."""
    first, _ = train(micro_batch_size=2, steps=30, out_dir=str(tmp_path / "a"))
    again, _ = train(micro_batch_size=2, steps=5, out_dir=str(tmp_path / "b"),
                     init_adapter=str(tmp_path / "a" / "run" / "adapter"))
    assert again[0] < first[0]
    assert abs(again[0] - sum(first[-3:]) / 3) < abs(again[0] - first[0])
    with pytest.raises(ValueError, match="cannot be combined"):
        train(micro_batch_size=2, steps=1, out_dir=str(tmp_path / "c"), full=True,
              init_adapter=str(tmp_path / "a" / "run" / "adapter"))


def test_resume_reproduces_the_uninterrupted_losses(tmp_path):
    whole, _ = train(micro_batch_size=2, steps=12, out_dir=str(tmp_path / "a"), until=12)
    first, _ = train(micro_batch_size=2, steps=12, out_dir=str(tmp_path / "b"), until=7)
    rest, _ = train(micro_batch_size=2, steps=12, out_dir=str(tmp_path / "b"), until=12, resume=True)
    assert len(first) == 7 and len(rest) == 5
    assert first + rest == pytest.approx(whole, rel=1e-5, abs=1e-6)


def test_schedule_warms_up_then_decays_to_the_floor():
    config = TrainConfig(warmup_steps=10, max_steps=110, min_lr_ratio=0.1)
    scale = lr_lambda(config)
    assert scale(0) == pytest.approx(0.1) and scale(9) == pytest.approx(1.0)
    assert scale(60) == pytest.approx(0.55) and scale(110) == pytest.approx(0.1)
    linear = lr_lambda(TrainConfig(warmup_steps=0, max_steps=100, schedule="linear", min_lr_ratio=0.0))
    assert linear(50) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        lr_lambda(TrainConfig(schedule="step"))


def test_batch_size_must_split_over_processes_and_micro_batches(tiny_model):
    from engine.training.trainer import Trainer

    model, tokenizer = tiny_model
    with pytest.raises(ValueError, match="not a multiple"):
        Trainer(model, tokenizer, [], [], config=TrainConfig(batch_size=6, micro_batch_size=4), out_dir=Path("/tmp"))


@pytest.mark.slow
def test_two_data_parallel_processes_match_one_process(tmp_path):
    """Global batch 4: one process with 2 micro-batches of 2, or 2 gloo processes with 1 of 2 each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    single = tmp_path / "single.json"
    subprocess.run([sys.executable, str(WORKER), str(single)], check=True, env=env, timeout=300)
    double = tmp_path / "double.json"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    str(WORKER), str(double)], check=True, env=env, timeout=300)
    one, two = json.loads(single.read_text()), json.loads(double.read_text())
    assert one["world"] == 1 and two["world"] == 2 and "MULTI_CPU" in two["distributed"]
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-4, abs=1e-5)

"""Trained adapters: `engine train` writes one, every command loads it with `--adapter`, the
Step and `engine write --json` name it, and the generator switches to the prompt it learned."""

from __future__ import annotations

import json

import pytest

from engine.adapters import DEFAULT_ADAPTER, resolve_adapter
from engine.loading import LoadConfig, ModelLoadError, load_model
from engine.training.data import Example
from engine.training.run import train_adapter
from engine.training.trainer import TrainConfig
from tests.engine.test_cli_write import PREMISE, assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    """A LoRA adapter trained for a few steps on the tiny random model of the data directory."""
    data = tmp_path_factory.mktemp("adapter-data")
    loaded = load_model(LoadConfig(model="tiny-random", data_dir=str(data), adapter="none"))
    examples = [Example("sentence", f"Tom had a {w}.", (), (w,), (), f"The {w} was lost.")
                for w in ("phone", "car", "dog", "cat", "tire", "store")] * 4
    out = tmp_path_factory.mktemp("adapter-run")
    train_adapter(model="tiny-random", examples=examples, out=out, loaded=loaded, val_share=0.2,
                  config=TrainConfig.from_name("tiny", max_steps=4, eval_every=2, save_every=2), max_tokens=64)
    return data, out / "adapter"


def test_train_writes_a_peft_adapter_with_its_manifest(adapter_dir):
    _, adapter = adapter_dir
    manifest = json.loads((adapter / "cntrl-adapter.json").read_text())
    assert manifest["prompt_style"] == "cntrl" and manifest["base_model"] == "tiny-random"
    assert manifest["train_examples"] > 0 and (adapter / "adapter_config.json").is_file()


def test_loading_with_an_adapter_merges_it_and_switches_the_prompt(adapter_dir):
    from engine.build import KnowledgeOptions, pipeline_from_model
    from engine.types import SamplingParams, StoryContext

    data, adapter = adapter_dir
    base = load_model(LoadConfig(model="tiny-random", data_dir=str(data), adapter="none"))
    trained = load_model(LoadConfig(model="tiny-random", data_dir=str(data), adapter=str(adapter)))
    assert base.adapter is None and trained.adapter.path == str(adapter) and trained.adapter.merged
    assert type(trained.model).__name__ == type(base.model).__name__  # merged: no peft wrapper left
    pipeline = pipeline_from_model(trained, knowledge=KnowledgeOptions(enabled=False), predictor="model")
    assert pipeline.generator.prompt_style == "cntrl"
    step = pipeline.next_step(StoryContext(PREMISE), params=SamplingParams(seed=0, max_new_tokens=8))
    assert step.adapter == str(adapter) and step.to_dict()["adapter"] == str(adapter)


def test_auto_adapter_only_for_the_default_model(tmp_path):
    assert resolve_adapter("auto", default_model=False) is None
    assert resolve_adapter("none", default_model=True) is None
    expected = DEFAULT_ADAPTER if (DEFAULT_ADAPTER / "adapter_config.json").is_file() else None
    assert resolve_adapter("auto", default_model=True) == expected
    with pytest.raises(ModelLoadError, match="no adapter at"):
        resolve_adapter(str(tmp_path), default_model=True)


def test_write_json_names_the_adapter(adapter_dir):
    data, adapter = adapter_dir
    proc = run_cli(PREMISE, "--model", "tiny-random", "--adapter", str(adapter), "--no-knowledge", "--sentences", "1",
                   "--seed", "1", "--max-tokens", "8", "--json", data_dir=data)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["adapter"] == str(adapter) and doc["steps"][0]["adapter"] == str(adapter)
    plain = run_cli(PREMISE, "--model", "tiny-random", "--adapter", "none", "--no-knowledge", "--sentences", "1",
                    "--seed", "1", "--max-tokens", "8", "--json", data_dir=data)
    assert json.loads(plain.stdout)["adapter"] is None


def test_a_missing_adapter_is_a_one_line_error(tmp_path, adapter_dir):
    data, _ = adapter_dir
    proc = run_cli(PREMISE, "--model", "tiny-random", "--adapter", str(tmp_path / "nothing"), data_dir=data)
    assert_one_line_error(proc, "no adapter at")

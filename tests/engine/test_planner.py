"""Device-map planner: table tests on the meta device, parsing, and the `plan` command."""

from __future__ import annotations

import json

import pytest

from engine import cli
from engine.cli_plan import format_plan, plan_model
from engine.paths import asset
from engine.planner import (
    GiB,
    ModelLoadError,
    parse_gpus,
    parse_max_memory,
    parse_size,
    plan,
    read_config,
)
from engine.testing import build_tiny_tokenizer, tiny_llama_config

LLAMA_70B = str(asset("configs", "llama-70b.json"))
GPT3_175B = str(asset("configs", "gpt3-175b.json"))


@pytest.fixture(scope="module")
def llama70b_4x80():
    return plan_model(source=LLAMA_70B, gpus="4x80GiB", dtype="bf16")


@pytest.fixture(scope="module")
def gpt3_4bit_8x80():
    return plan_model(source=GPT3_175B, gpus="8x80GiB", dtype="bf16", quantize="4bit")


@pytest.fixture(scope="module")
def gpt3_4bit_2x24():
    return plan_model(source=GPT3_175B, gpus="2x24GiB", dtype="bf16", quantize="4bit")


@pytest.fixture(scope="module")
def tiny_config():
    return tiny_llama_config(len(build_tiny_tokenizer()))


@pytest.fixture(scope="module")
def deep_config():
    """Tiny widths but eight layers, so layers can be spread over devices."""
    return tiny_llama_config(len(build_tiny_tokenizer()), num_hidden_layers=8)


# --------------------------------------------------------------------------- table tests


def test_llama70b_bf16_on_4x80_puts_no_layer_on_cpu_or_disk(llama70b_4x80):
    result = llama70b_4x80
    assert result.fits and result.missing_bytes == 0
    assert set(result.bytes_per_device) == {"0", "1", "2", "3"}
    assert {str(d) for d in result.device_map.values()} <= {"0", "1", "2", "3"}
    assert sum(result.layers_per_device.values()) == 80
    # 70B parameters at 2 bytes each: about 128 GiB, spread over all four GPUs
    assert 125 * GiB < result.total_bytes < 135 * GiB
    assert all(size <= 80 * GiB for size in result.bytes_per_device.values())
    assert min(result.layers_per_device.values()) >= 15


def test_gpt3_175b_4bit_fits_on_8x80(gpt3_4bit_8x80):
    result = gpt3_4bit_8x80
    assert result.fits and result.missing_bytes == 0
    assert set(result.bytes_per_device) == {str(i) for i in range(8)}
    assert sum(result.layers_per_device.values()) == 96
    # 175B weights at half a byte (plus embeddings in bf16): about 82 GiB
    assert 78 * GiB < result.total_bytes < 90 * GiB


def test_gpt3_175b_4bit_on_2x24_does_not_fit_and_says_by_how_much(gpt3_4bit_2x24):
    result = gpt3_4bit_2x24
    assert not result.fits
    # quantized total ~82 GiB; the two GPUs hold ~42 GiB, so ~40 GiB are missing
    assert 35 * GiB < result.missing_bytes < 45 * GiB
    assert result.layers_per_device["disk"] > 0
    text = format_plan(result)
    assert f"does not fit: missing {result.missing_bytes / GiB:.2f} GiB" in text
    assert "gpu 0" in text and "disk" in text


def test_quantization_shrinks_the_bytes(tiny_config):
    budget = {"cpu": 10 * GiB}
    sizes = {
        q: plan(config=tiny_config, max_memory=budget, dtype="bf16", quantize=q).total_bytes
        for q in ("none", "8bit", "4bit")
    }
    assert sizes["4bit"] < sizes["8bit"] < sizes["none"]


def test_tied_embeddings_are_counted_once(tiny_config):
    budget = {"cpu": GiB}
    tied = plan(config=tiny_config, max_memory=budget, dtype="fp32")
    untied_config = tiny_llama_config(tiny_config.vocab_size, tie_word_embeddings=False)
    untied = plan(config=untied_config, max_memory=budget, dtype="fp32")
    embedding = tiny_config.vocab_size * tiny_config.hidden_size * 4
    assert untied.total_bytes - tied.total_bytes == embedding


def test_sequential_fills_gpu0_first_and_balanced_low_0_keeps_it_light(deep_config):
    budget = {0: GiB, 1: GiB, "cpu": 0}
    sequential = plan(config=deep_config, max_memory=budget, strategy="sequential")
    assert set(sequential.bytes_per_device) == {"0"}
    balanced = plan(config=deep_config, max_memory=budget, strategy="balanced")
    low_0 = plan(config=deep_config, max_memory=budget, strategy="balanced_low_0")
    assert set(balanced.bytes_per_device) == {"0", "1"}
    assert low_0.layers_per_device.get("0", 0) < balanced.layers_per_device["0"]


def test_cpu_offload_fits_when_cpu_memory_is_given(deep_config):
    layer = deep_config.hidden_size * deep_config.intermediate_size * 3 * 4  # fp32 MLP bytes
    budget = {0: 4 * layer, "cpu": GiB}
    result = plan(config=deep_config, max_memory=budget, strategy="sequential")
    assert result.fits
    assert result.layers_per_device.get("cpu", 0) > 0
    assert result.layers_per_device.get("0", 0) > 0
    assert any("CPU" in note for note in result.notes)


def test_quantized_offload_is_sized_unquantized(deep_config):
    layer = deep_config.hidden_size * deep_config.intermediate_size * 3 * 4
    budget = {0: 2 * layer, "cpu": GiB}
    quantized = plan(config=deep_config, max_memory=budget, strategy="sequential", quantize="4bit")
    plain = plan(config=deep_config, max_memory=budget, strategy="sequential")
    assert quantized.layers_per_device.get("cpu", 0) > 0
    # bitsandbytes leaves offloaded layers in the model dtype: a CPU layer costs the same
    cpu_layer = quantized.bytes_per_device["cpu"] / quantized.layers_per_device["cpu"]
    assert cpu_layer >= 0.9 * plain.bytes_per_device["cpu"] / plain.layers_per_device["cpu"]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4x80GiB", {0: 80 * GiB, 1: 80 * GiB, 2: 80 * GiB, 3: 80 * GiB}),
        ("2x24GB", {0: 24 * 10**9, 1: 24 * 10**9}),
        ("80GiB,40GiB", {0: 80 * GiB, 1: 40 * GiB}),
        ("", {}),
    ],
)
def test_parse_gpus(text, expected):
    assert parse_gpus(text) == expected


@pytest.mark.parametrize("text", ["x80GiB", "4x", "4xlots", "0x80GiB", "80 parsecs"])
def test_parse_gpus_rejects_nonsense(text):
    with pytest.raises(ModelLoadError):
        parse_gpus(text)


def test_parse_size_and_max_memory():
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("1.5GiB") == int(1.5 * GiB)
    assert parse_size(123) == 123
    assert parse_max_memory("0=20GiB, 1=20GiB, cpu=64GiB") == {
        0: 20 * GiB,
        1: 20 * GiB,
        "cpu": 64 * GiB,
    }
    assert parse_max_memory("") is None


@pytest.mark.parametrize("text", ["0:20GiB", "gpu=20GiB", "0=twenty", "cpu="])
def test_parse_max_memory_rejects_bad_entries(text):
    with pytest.raises(ModelLoadError, match="max-memory|memory size"):
        parse_max_memory(text)


def test_unknown_strategy_dtype_and_quantize_are_one_line_errors(tiny_config):
    for kwargs in ({"strategy": "everywhere"}, {"dtype": "fp8"}, {"quantize": "2bit"}):
        with pytest.raises(ModelLoadError) as info:
            plan(config=tiny_config, max_memory={"cpu": GiB}, **kwargs)
        assert "\n" not in str(info.value)


def test_read_config_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hidden_size": 8}')
    with pytest.raises(ModelLoadError, match="model_type"):
        read_config(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot read"):
        read_config(broken)


# --------------------------------------------------------------------------- CLI


def test_plan_command_json(capsys):
    code = cli.main(
        ["plan", "--config", LLAMA_70B, "--gpus", "4x80GiB", "--dtype", "bf16", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"fits", "device_map", "bytes_per_device", "missing_bytes"} <= set(out)
    assert out["fits"] is True and out["missing_bytes"] == 0
    assert "cpu" not in out["bytes_per_device"] and "disk" not in out["bytes_per_device"]


def test_plan_command_table_when_it_does_not_fit(capsys):
    args = ["plan", "--config", GPT3_175B, "--gpus", "2x24GiB", "--quantize", "4bit"]
    code = cli.main([*args, "--dtype", "bf16"])
    out = capsys.readouterr().out
    assert code == 1
    assert "does not fit: missing" in out and "GiB" in out


def test_plan_command_bad_input_is_one_line(capsys):
    code = cli.main(["plan", "--config", "/no/such/config.json", "--gpus", "1x8GiB"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 1


def test_cpu_only_shortcut_matches_the_planner(tiny_config, monkeypatch):
    import torch

    from engine.planner import cpu_only_map

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cpu_only_map(strategy="cpu", max_memory={0: GiB}, checkpoint_bytes=None) == {"": "cpu"}
    assert cpu_only_map(strategy="auto", max_memory=None, checkpoint_bytes=10**6) == {"": "cpu"}
    assert cpu_only_map(strategy="auto", max_memory={"cpu": GiB}, checkpoint_bytes=10**6) is None
    assert cpu_only_map(strategy="auto", max_memory=None, checkpoint_bytes=10**15) is None
    assert cpu_only_map(strategy="auto", max_memory=None, checkpoint_bytes=None) is None
    full = plan(config=tiny_config, max_memory=None)
    assert {str(d) for d in full.device_map.values()} == {"cpu"}

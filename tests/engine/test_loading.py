"""Model loading on tiny random models: sources, devices, quantization, cache and errors."""

from __future__ import annotations

import argparse
import json
import sys

import pytest
import torch

from engine import gguf_cache, loading, paths
from engine.loading import (
    DEFAULT_MODEL,
    LoadConfig,
    ModelLoadError,
    add_loading_args,
    load_config_from_args,
    load_model,
    resolve_model,
)
from engine.planner import GiB, plan, read_config
from engine.testing import save_tiny_llama

PRODUCT_DATA_DIR = paths.data_dir()  # read before fixtures may point the data dir elsewhere
PROMPTS = ["tom went to the store", "the dog ran"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="module")
def wide_dir(tmp_path_factory):
    """Wide enough for bitsandbytes blocks (hidden 128, MLP 256)."""
    path = tmp_path_factory.mktemp("wide") / "wide-llama"
    return save_tiny_llama(path, hidden_size=128, intermediate_size=256)


@pytest.fixture(scope="module")
def deep_dir(tmp_path_factory):
    """Eight small layers, so a memory budget can split them between CPU and disk."""
    return save_tiny_llama(tmp_path_factory.mktemp("deep") / "deep-llama", num_hidden_layers=8)


def greedy(loaded, prompts=PROMPTS, new_tokens=4) -> torch.Tensor:
    batch = loaded.tokenizer(prompts, return_tensors="pt", padding=True).to(loaded.device)
    with torch.no_grad():
        out = loaded.model.generate(**batch, max_new_tokens=new_tokens, do_sample=False)
    return out[:, batch["input_ids"].shape[1] :].cpu()


# --------------------------------------------------------------------------- sources


def test_local_directory_loads_with_left_padding_and_a_pad_token(tiny_dir, tmp_path):
    loaded = load_model(LoadConfig(model=str(tiny_dir), device_map="cpu", data_dir=str(tmp_path)))
    assert loaded.source == "hf-dir" and loaded.model_id == "tiny-llama"
    assert loaded.device == "cpu" and loaded.load_seconds > 0
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token is not None
    assert not loaded.model.training
    assert greedy(loaded).shape == (2, 4)


def test_pad_token_falls_back_to_eos(tiny_dir, tmp_path):
    loaded = load_model(LoadConfig(model=str(tiny_dir), device_map="cpu", data_dir=str(tmp_path)))
    tokenizer = loaded.tokenizer
    tokenizer.pad_token = None
    loading._prepare_for_generation(loaded.model, tokenizer)
    assert tokenizer.pad_token == tokenizer.eos_token


def test_resolve_model_kinds(tiny_dir, tmp_path):
    assert resolve_model(str(tiny_dir)).kind == "hf-dir"
    assert resolve_model("HuggingFaceTB/SmolLM2-360M").kind == "hub"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(str(gguf)) == loading.ResolvedModel("gguf", str(gguf), "m")
    assert resolve_model(str(tmp_path)).kind == "gguf"  # a folder holding one .gguf


def test_resolve_default_model_finds_the_wheel():
    pytest.importorskip("gguf")
    try:
        resolved = resolve_model("default")
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    assert resolved.kind == "gguf" and resolved.model_id == DEFAULT_MODEL
    assert resolved.location.endswith(".gguf")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/no/such/model", "not found"),
        ("./missing.gguf", "not found"),
        ("not a model!", "not a model directory"),
    ],
)
def test_resolve_model_errors(spec, message):
    with pytest.raises(ModelLoadError, match=message):
        resolve_model(spec)


def test_tiny_preset_builds_a_model_in_the_data_dir(tmp_path):
    config = LoadConfig.from_name("tiny", data_dir=str(tmp_path))
    loaded = load_model(config)
    assert (tmp_path / "models" / loading.TINY_MODEL / "config.json").is_file()
    assert greedy(loaded, ["the cat"]).shape == (1, 4)


# --------------------------------------------------------------------------- devices


def test_device_map_auto_applies_the_planners_map(tiny_dir, tmp_path):
    config = LoadConfig(model=str(tiny_dir), max_memory="cpu=1GiB", data_dir=str(tmp_path))
    loaded = load_model(config)
    planned = plan(config=read_config(tiny_dir), max_memory=config.max_memory)
    assert loaded.device_map == planned.device_map


def test_disk_offload_generates_the_same_tokens(deep_dir, tmp_path):
    baseline = greedy(load_model(LoadConfig(model=str(deep_dir), device_map="cpu")))
    budget = 300 * 1024  # bytes: room for a few layers, the rest must go to disk
    offload = tmp_path / "offload"
    config = LoadConfig(
        model=str(deep_dir),
        device_map="sequential",
        max_memory={"cpu": budget},
        offload_dir=str(offload),
    )
    loaded = load_model(config)
    assert {str(d) for d in loaded.device_map.values()} == {"cpu", "disk"}
    assert offload.is_dir()
    torch.testing.assert_close(greedy(loaded), baseline)


@pytest.mark.parametrize(
    ("mode", "layer_class"), [("8bit", "Linear8bitLt"), ("4bit", "Linear4bit")]
)
def test_bitsandbytes_quantized_load_and_generate_on_cpu(wide_dir, mode, layer_class):
    pytest.importorskip("bitsandbytes")
    loaded = load_model(
        LoadConfig(model=str(wide_dir), device_map="cpu", dtype="bf16", quantize=mode)
    )
    classes = {type(m).__name__ for m in loaded.model.modules()}
    assert layer_class in classes
    assert greedy(loaded).shape == (2, 4)


def test_quantize_without_bitsandbytes_is_a_clear_error(tiny_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import now fails
    for device_map in ("auto", "cpu"):
        config = LoadConfig(model=str(tiny_dir), device_map=device_map, quantize="4bit")
        with pytest.raises(ModelLoadError, match="needs bitsandbytes"):
            load_model(config)


@pytest.mark.requires_cuda
def test_auto_device_map_on_cuda(tiny_dir):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    loaded = load_model(LoadConfig(model=str(tiny_dir), device_map="auto", dtype="bf16"))
    assert loaded.device.startswith("cuda")
    assert greedy(loaded).shape == (2, 4)


# --------------------------------------------------------------------------- config and flags


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device_map": "everywhere"}, "device map"),
        ({"max_memory": "0=lots"}, "memory size"),
        ({"max_memory": "gpu0=20GiB"}, "max-memory"),
        ({"dtype": "fp8"}, "dtype"),
        ({"quantize": "3bit"}, "quantize"),
    ],
)
def test_bad_load_config_is_a_one_line_error(kwargs, message):
    with pytest.raises(ModelLoadError, match=message) as info:
        LoadConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_presets():
    assert LoadConfig.from_name("default").model == DEFAULT_MODEL
    assert LoadConfig.from_name("gpu-4bit").quantize == "4bit"
    assert LoadConfig.from_name("cpu", dtype="bf16").dtype == "bfloat16"
    with pytest.raises(ModelLoadError):
        LoadConfig.from_name("huge")


def test_flags_round_trip_and_are_documented():
    parser = add_loading_args(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--model", "x/y", "--device-map", "balanced", "--max-memory", "0=20GiB,cpu=64GiB"]
        + ["--dtype", "bf16", "--offload-dir", "/tmp/off", "--quantize", "8bit"]
    )
    config = load_config_from_args(args)
    assert config.max_memory == {0: 20 * GiB, "cpu": 64 * GiB}
    assert (config.model, config.device_map, config.dtype) == ("x/y", "balanced", "bfloat16")
    assert (config.offload_dir, config.quantize) == ("/tmp/off", "8bit")
    text = parser.format_help()
    for flag in (
        "--model",
        "--device-map",
        "--max-memory",
        "--dtype",
        "--offload-dir",
        "--quantize",
    ):
        assert flag in text


# --------------------------------------------------------------------------- GGUF cache


def test_corrupt_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"this is not a gguf file" * 10)
    with pytest.raises(ModelLoadError, match="cannot read GGUF file"):
        load_model(LoadConfig(model=str(bad), data_dir=str(tmp_path / "data")))


def fake_convert(tiny_dir, calls):
    """A stand-in for the slow GGUF conversion: writes the tiny model and the marker."""

    def convert(gguf, cache):
        calls.append(cache)
        save_tiny_llama(cache)
        (cache / loading.CACHE_MARKER).write_text(json.dumps(gguf_cache.gguf_fingerprint(gguf)))
        return cache

    return convert


def test_gguf_cache_is_reused_then_rebuilt_when_stale_or_corrupt(tiny_dir, tmp_path, monkeypatch):
    gguf = tmp_path / "story.gguf"
    gguf.write_bytes(b"GGUF v1")
    calls: list = []
    monkeypatch.setattr(loading, "convert_gguf", fake_convert(tiny_dir, calls))
    config = LoadConfig(model=str(gguf), device_map="cpu", data_dir=str(tmp_path / "data"))
    assert load_model(config).source == "gguf-convert"
    assert load_model(config).source == "gguf-cache" and len(calls) == 1

    gguf.write_bytes(b"GGUF v2, a newer file")  # the source changed: stale cache
    assert load_model(config).source == "gguf-convert" and len(calls) == 2

    cache = loading.gguf_cache_dir(gguf, tmp_path / "data")
    (cache / "model.safetensors").write_bytes(b"truncated")  # damaged weights
    loaded = load_model(config)
    assert loaded.source == "gguf-convert" and len(calls) == 3
    assert greedy(loaded).shape == (2, 4)


def test_cache_freshness_checks_marker_and_files(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    cache = tmp_path / "cache"
    cache.mkdir()
    assert not loading.cache_is_fresh(cache, gguf)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (cache / name).write_text("{}")
    (cache / loading.CACHE_MARKER).write_text("{not json")
    assert not loading.cache_is_fresh(cache, gguf)
    (cache / loading.CACHE_MARKER).write_text(json.dumps(gguf_cache.gguf_fingerprint(gguf)))
    assert loading.cache_is_fresh(cache, gguf)
    (cache / "tokenizer.json").unlink()
    assert not loading.cache_is_fresh(cache, gguf)


# --------------------------------------------------------------------------- real model


@pytest.mark.integration
def test_default_model_loads_from_the_cache_and_generates():
    pytest.importorskip("gguf")
    try:
        loading.default_gguf_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    loaded = load_model(LoadConfig(data_dir=str(PRODUCT_DATA_DIR)))
    assert loaded.model_id == DEFAULT_MODEL
    assert loaded.source in ("gguf-cache", "gguf-convert")
    text = loaded.tokenizer.decode(greedy(loaded, ["Once upon a time"], new_tokens=6)[0])
    assert text.strip()

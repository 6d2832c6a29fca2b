"""The default backend: `auto` picks llama.cpp for a GGUF model on a CPU and falls back to torch
with one log line; on llama.cpp, candidates decode together exactly as one after another,
token alternatives and continue-from-token work, a seed repeats its sentence, and gold
perplexity agrees with the torch copy of the same weights."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import torch

from engine import build
from engine.loading import LoadConfig
from engine.planner import ModelLoadError
from engine.types import SamplingParams, StoryContext
from tests.conftest import PRODUCT_DATA_DIR

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python not installed (bash scripts/setup.sh)")


def test_auto_is_the_default_backend():
    assert LoadConfig().backend == "auto"
    from engine.cli import build_parser

    write = build_parser()._subparsers._group_actions[0].choices["write"]
    assert write.parse_args(["A premise."]).backend == "auto"


def test_auto_writes_with_torch_where_llama_cpp_does_not_apply(tmp_path, monkeypatch):
    assert build.auto_backend(LoadConfig(model="tiny-random", data_dir=str(tmp_path))) == (
        "torch", "the model is not a .gguf file")
    assert build.auto_backend(LoadConfig(quantize="8bit"))[0] == "torch"
    assert build.auto_backend(LoadConfig(dtype="bfloat16"))[0] == "torch"

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    backend, why = build.auto_backend(LoadConfig())  # the default model is a .gguf file
    assert backend == "torch" and "llama-cpp-python is not installed" in why


def test_auto_falls_back_to_torch_with_one_log_line(monkeypatch, caplog):
    made = []

    def broken(load, config):
        raise ModelLoadError("llama.cpp cannot load model.gguf: unknown model architecture")

    monkeypatch.setattr(build, "auto_backend", lambda load: ("llama-cpp", "a .gguf model on the CPU"))
    monkeypatch.setitem(build.BACKEND_LOADERS, "llama-cpp", broken)
    monkeypatch.setitem(build.BACKEND_LOADERS, "torch", lambda load, config: made.append(load.backend) or "torch-writer")
    with caplog.at_level(logging.INFO, logger="engine.build"):
        assert build.generator_for(LoadConfig()) == "torch-writer"
    assert made == ["auto"]
    lines = [r for r in caplog.records if r.name == "engine.build"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "backend auto: torch" in lines[0].getMessage() and "unknown model architecture" in lines[0].getMessage()

    # When torch cannot load the file either (a broken file), its error is the one reported, alone.
    def also_broken(load, config):
        raise ModelLoadError("cannot read GGUF file model.gguf")

    caplog.clear()
    monkeypatch.setitem(build.BACKEND_LOADERS, "torch", also_broken)
    with pytest.raises(ModelLoadError, match="cannot read GGUF file"):
        build.generator_for(LoadConfig())
    assert not [r for r in caplog.records if r.name == "engine.build"]

    # An explicit --backend is taken as given: no fallback, the error reaches the caller.
    with pytest.raises(ModelLoadError, match="unknown model architecture"):
        build.generator_for(LoadConfig(backend="llama-cpp"))


@pytest.fixture(scope="module")
def llama_writer():
    gen = build.generator_for(LoadConfig(data_dir=str(PRODUCT_DATA_DIR), backend="llama-cpp", threads=1))
    yield gen
    gen.close()


CONTEXT = StoryContext("Jennifer had a big exam tomorrow.", ("She stayed up late to study.",))


@pytest.mark.integration
@needs_llama
def test_auto_loads_llama_cpp_for_the_default_model():
    gen = build.generator_for(LoadConfig(data_dir=str(PRODUCT_DATA_DIR), threads=1))
    try:
        assert gen.backend == "llama-cpp" and gen.provenance()["lora"].endswith(".gguf")
    finally:
        gen.close()


@pytest.mark.integration
@needs_llama
def test_batched_candidates_equal_one_after_another(llama_writer, monkeypatch):
    params = SamplingParams(temperature=0.0, n_candidates=4, max_new_tokens=30)
    assert llama_writer._rows_per_batch(params) >= 4  # all four in one batch
    together = llama_writer.generate(context=CONTEXT, keywords=["morning"], facts=[], params=params)
    monkeypatch.setattr(llama_writer, "_rows_per_batch", lambda params: 1)
    apart = llama_writer.generate(context=CONTEXT, keywords=["morning"], facts=[], params=params)
    assert together.candidates == apart.candidates and len(together.candidates) == 4
    assert [[c.token_id for c in row] for row in together.tokens] == [[c.token_id for c in row] for row in apart.tokens]
    assert together.keywords_missing == apart.keywords_missing
    # The rows' cells are gone afterwards: the next single candidate still matches a fresh context's.
    one = llama_writer.generate(context=CONTEXT, keywords=["morning"], facts=[],
                                params=SamplingParams(temperature=0.0, max_new_tokens=30))
    assert one.candidates[0] == together.candidates[0]


@pytest.mark.integration
@needs_llama
def test_sampled_candidates_differ_and_a_seed_repeats(llama_writer):
    params = SamplingParams(n_candidates=4, seed=11, max_new_tokens=30)
    first = llama_writer.generate(context=CONTEXT, keywords=["dog"], facts=[], params=params)
    again = llama_writer.generate(context=CONTEXT, keywords=["dog"], facts=[], params=params)
    assert first.candidates == again.candidates
    assert len(set(first.candidates)) > 1 and all("dog" in c.lower() for c in first.candidates)


@pytest.mark.integration
@needs_llama
def test_alternatives_and_continue_from_a_token_on_llama_cpp(llama_writer):
    params = SamplingParams(temperature=0.0, max_new_tokens=30, alternatives=5)
    result = llama_writer.generate(context=CONTEXT, keywords=["morning"], facts=[], params=params)
    choices = result.tokens[0]
    assert choices and all(len(c.alternatives) == 5 for c in choices)
    # Continue from the runner-up of the second token: the sentence keeps the first token and takes it.
    picked = choices[1].alternatives[1]
    prefix = [choices[0].token_id, picked.token_id]
    again = llama_writer.generate(context=CONTEXT, keywords=["morning"], facts=[], params=params, prefix_tokens=prefix)
    assert again.tokens[0][0].token_id == prefix[0] and again.tokens[0][1].token_id == prefix[1]
    assert again.candidates[0] != result.candidates[0]


@pytest.mark.integration
@needs_llama
def test_gold_nll_on_llama_cpp_agrees_with_torch(llama_writer, default_pipeline):
    """The torch model is the float32 conversion of the same 4-bit GGUF, with the adapter merged."""
    from engine.evaluation.scorer import target_nll
    from engine.evaluation.systems import scoring_prompt

    tok = llama_writer.tokenizer
    prompt, lead = scoring_prompt(llama_writer, CONTEXT, ["morning"], [])
    target = tok(lead + "The next morning she took the exam and passed it.", add_special_tokens=False)["input_ids"]
    ours = llama_writer.target_nll(prompt.ids, target)
    with torch.inference_mode():
        theirs = target_nll(default_pipeline.generator.model, prompt.ids, target)
    assert abs(ours - theirs) / len(target) < 0.1  # nats per token
    # and the cache is left holding the prompt only, so writing still works
    assert llama_writer.generate(context=CONTEXT, keywords=["exam"], facts=[],
                                 params=SamplingParams(temperature=0.0)).candidates[0]

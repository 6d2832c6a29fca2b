"""Generation backends: the server-side rules match the in-process loop; llama.cpp and vLLM
write through the same pipeline; a server that is down gives a clear error."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from engine.decode import RowRules
from engine.prompts import PromptIds, build_prompt
from engine.sentence import clean_sentence
from engine.types import SamplingParams, StoryContext
from engine.vocab import vocab_info
from tests.conftest import PRODUCT_DATA_DIR

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None


def _rules_greedy(model, tokenizer, prompt: PromptIds, params: SamplingParams, keywords, echo) -> list[int]:
    """Decode greedily with RowRules driving the logits, as a vLLM server would."""
    rules = RowRules(tokenizer, params=params, keywords=keywords, min_words=4, story_ids=prompt.prefix,
                     banned_phrases=echo, vocab=vocab_info(tokenizer))
    ids, out = list(prompt.ids), []
    stop = rules.stop_id
    for _ in range(params.max_new_tokens + 1):
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()  # (V,)
        token = int(rules.adjust(out, logits).argmax())
        if token == stop:
            break
        out.append(token)
        ids.append(token)
    return out


def test_row_rules_match_the_in_process_loop(tiny_generator):
    """Greedy decoding under RowRules gives exactly the torch generator's sentence."""
    params = SamplingParams(temperature=0.0, max_new_tokens=16, keyword_strength=4.0, repetition_penalty=1.3)
    tok = tiny_generator.tokenizer
    words = [w for w in tok.get_vocab() if w.isalpha() and len(w) > 3][:2]
    for keywords in ([], words[:1]):
        result = tiny_generator.generate(context=StoryContext("the cat sat on the mat ."), keywords=keywords,
                                         facts=[], params=params)
        prompt = build_prompt(tok, context=StoryContext("the cat sat on the mat ."), keywords=keywords, facts=[],
                              max_prompt_tokens=tiny_generator.context_window - params.max_new_tokens - 1,
                              style=tiny_generator.prompt_style)
        out = _rules_greedy(tiny_generator.model, tok, prompt, params, keywords, tiny_generator._echo_phrases())
        assert clean_sentence(tok.decode(out, skip_special_tokens=True)) == result.candidates[0]


def test_a_down_vllm_server_is_a_clear_error(tiny_model):
    from engine.backends.vllm_client import BackendUnavailable, VllmGenerator

    _, tokenizer = tiny_model
    gen = VllmGenerator(tokenizer, "tiny", server_url="http://127.0.0.1:9/v1", served_model="x", timeout_s=2)
    with pytest.raises(BackendUnavailable, match="does not answer"):
        gen.generate(context=StoryContext("a story ."), keywords=[], facts=[], params=SamplingParams())


def test_vllm_backend_needs_a_server_url():
    from engine.loading import LoadConfig
    from engine.planner import ModelLoadError

    with pytest.raises(ModelLoadError, match="--server-url"):
        LoadConfig(backend="vllm")


def test_gguf_lora_names_and_shapes(tmp_path):
    """A peft adapter becomes llama.cpp's tensor names, A as (r, in), B as (out, r), q/k rows permuted."""
    import gguf
    import numpy as np
    from safetensors.numpy import save_file

    from engine.backends.gguf_lora import lora_to_gguf, permute_rows

    rng = np.random.default_rng(0)
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2, "lora_alpha": 4}')
    b = rng.standard_normal((8, 2)).astype(np.float32)
    save_file({
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": rng.standard_normal((2, 8)).astype(np.float32),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": b,
    }, str(folder / "adapter_model.safetensors"))
    out = lora_to_gguf(folder, {"num_attention_heads": 2, "num_key_value_heads": 1}, tmp_path / "a.gguf")
    reader = gguf.GGUFReader(str(out))
    names = {t.name: t for t in reader.tensors}
    assert set(names) == {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b"}
    stored_b = np.array(names["blk.0.attn_q.weight.lora_b"].data).reshape(8, 2)
    assert np.allclose(stored_b, permute_rows(b, 2)) and not np.allclose(stored_b, b)


@pytest.mark.integration
@pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python not installed (bash scripts/setup.sh --llama-cpp)")
def test_llama_cpp_with_the_trained_adapter_writes_like_torch(default_pipeline):
    """The GGUF LoRA applies the shipped adapter: greedy sentences agree with the merged torch model."""
    from engine.build import generator_for
    from engine.loading import LoadConfig

    gen = generator_for(LoadConfig(data_dir=str(PRODUCT_DATA_DIR), backend="llama-cpp"))
    try:
        assert gen.provenance()["lora"].endswith(".gguf") and gen.prompt_style == default_pipeline.generator.prompt_style
        params = SamplingParams(temperature=0.0, max_new_tokens=30)
        context = StoryContext("Jennifer had a big exam tomorrow.", ("She stayed up late to study.",))
        ours = gen.generate(context=context, keywords=["morning"], facts=[], params=params).candidates[0]
        torch_one = default_pipeline.generator.generate(context=context, keywords=["morning"], facts=[], params=params)
        assert "morning" in ours.lower()
        assert "morning" in torch_one.candidates[0].lower()
        # The adapter is applied: the next token after a story prompt agrees with the merged model.
        tok = default_pipeline.generator.tokenizer
        ids = tok("Jennifer had a big exam tomorrow. She stayed up late to study. The next morning,",
                  add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            want = default_pipeline.generator.model(input_ids=torch.tensor([ids])).logits[0, -1].topk(3).indices.tolist()
        assert int(gen._prefill(ids)[0].argmax()) in want
        many = gen.generate(context=context, keywords=["dog"], facts=[],
                            params=SamplingParams(n_candidates=3, seed=5)).candidates
        assert len(many) == 3 and all("dog" in c.lower() for c in many)
    finally:
        gen.close()


@pytest.mark.integration
@pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python not installed (bash scripts/setup.sh --llama-cpp)")
def test_the_evaluation_harness_writes_on_llama_cpp():
    """`engine evaluate --backend llama-cpp`: the trained system writes through llama.cpp; torch scores."""
    from engine.evaluation.run import evaluate
    from engine.evaluation.systems import system_spec

    report = evaluate(specs=[system_spec("trained")], split="dev", limit=1, scorer="none", backend="llama-cpp",
                      data_dir=str(PRODUCT_DATA_DIR), progress=False)
    row = report["systems"]["trained"]
    assert report["notes"]["backend"].startswith("llama-cpp writes")
    assert 1.0 < row["gold_ppl"] < 1000 and row["inclusion_guided"] == 1.0
    assert row["words_per_sentence"] >= 4 and row["seconds_per_sentence"] > 0

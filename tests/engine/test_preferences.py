"""The preference stage: the pairs file reader, the DPO loss, and a tiny DPO run whose held-out
preference accuracy rises."""

from __future__ import annotations

import json

import pytest
import torch

from engine.testing import build_tiny_tokenizer, tiny_llama_config
from engine.training.preferences import DPOConfig, PreferencePair, dpo_loss, read_preferences, train_dpo


def write_lines(path, lines) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_reader_takes_exported_pairs_with_their_keywords_and_facts(tmp_path):
    line = {"prompt": "Tom had a dog.", "chosen": "The dog ran home.", "rejected": "The cat sat.",
            "meta": {"chosen": {"keywords": ["dog"], "facts": [{"sentence": "A dog is an animal."}]}}}
    path = tmp_path / "pairs.jsonl"
    write_lines(path, [json.dumps(line), "", json.dumps({**line, "meta": {}})])
    pairs = read_preferences(path)
    assert pairs[0] == PreferencePair("Tom had a dog.", "The dog ran home.", "The cat sat.", ("dog",), ("A dog is an animal.",))
    assert pairs[1].keywords == () and len(pairs) == 2


@pytest.mark.parametrize("bad, reason", [
    ("{not json", "not JSON"),
    ('{"prompt": "Tom.", "chosen": "A."}', "missing or empty rejected"),
    ('{"prompt": "Tom.", "chosen": "A.", "rejected": "A."}', "the same sentence"),
    ('["prompt"]', "expected an object"),
])
def test_reader_refuses_a_malformed_line_with_its_number(tmp_path, bad, reason):
    good = json.dumps({"prompt": "Tom.", "chosen": "A dog ran.", "rejected": "A cat sat."})
    path = tmp_path / "pairs.jsonl"
    write_lines(path, [good, good, bad])
    with pytest.raises(ValueError, match=rf"line 3: .*{reason}"):
        read_preferences(path)


def test_dpo_loss_falls_as_the_margin_grows():
    zero = torch.zeros(1)
    assert dpo_loss(zero, zero, zero, zero, 0.1).item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    assert dpo_loss(torch.tensor([5.0]), zero, zero, zero, 0.1) < dpo_loss(zero, zero, zero, zero, 0.1)
    assert dpo_loss(zero, torch.tensor([5.0]), zero, zero, 0.1) > dpo_loss(zero, zero, zero, zero, 0.1)


def test_a_tiny_dpo_run_raises_held_out_preference_accuracy():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(0)
    model = get_peft_model(LlamaForCausalLM(tiny_llama_config(len(tokenizer))),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj"]))
    names, things = ["tom", "mary"], ["phone", "car", "dog", "cat", "tire", "store"]
    pairs = [PreferencePair(f"{n} had a {t}.", f"then the {t} was lost.", f"{t} {t} {t} the the.", (t,))
             for n in names for t in things] * 3
    figures = train_dpo(model, tokenizer, pairs, config=DPOConfig(beta=0.5, lr=2e-2, epochs=8, batch_size=4,
                                                                  val_share=0.25, max_tokens=64))
    assert figures["held_out_pairs"] == 9 and figures["train_pairs"] == 27
    assert figures["accuracy_after"] > figures["accuracy_before"]
    assert figures["accuracy_after"] >= 0.75
    assert sum(figures["losses"][-5:]) / 5 < sum(figures["losses"][:5]) / 5

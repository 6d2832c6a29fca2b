"""Tiny random models and a tiny tokenizer for tests: built from configs, no download."""

from __future__ import annotations

import string
from pathlib import Path

TINY_WORDS = (
    "the a an and to of in on was he she they it his her went got had did not but then "
    "tom mary friend phone battery died borrow store car tire flat rain dog cat park "
    "happy sad day night home work school money bought found lost decided wanted "
    "ran walked looked called asked said very good bad new old big small"
).split()


def build_tiny_tokenizer():
    """A word-level tokenizer with byte-ish fallback characters and chat-free specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    chars = list(string.ascii_letters + string.digits + string.punctuation)
    vocab_list = specials + ["Ġ" + w for w in TINY_WORDS] + TINY_WORDS + chars + ["Ġ" + c for c in chars]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    merges: list[tuple[str, str]] = []
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )


def tiny_llama_config(vocab_size: int, **overrides):
    """A 2-layer Llama config small enough to build in milliseconds."""
    from transformers import LlamaConfig

    fields = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=True,
    )
    fields.update(overrides)
    return LlamaConfig(**fields)


def save_tiny_llama(directory: str | Path, seed: int = 0, **config_overrides) -> Path:
    """Write a tiny random Llama and its tokenizer to `directory`; returns the path."""
    import torch
    from transformers import LlamaForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(len(tokenizer), **config_overrides))
    model.eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory

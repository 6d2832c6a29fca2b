"""Token classes of a vocabulary, computed once per tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class VocabInfo:
    end_of_text: tuple[int, ...]  # EOS and end-of-turn tokens
    terminal: tuple[int, ...]  # tokens whose text ends a sentence (".", "!", "?", '."')
    line_break: tuple[int, ...]  # tokens containing a newline
    banned: tuple[int, ...]  # special tokens that must never appear in a sentence


def _end_ids(tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for name in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>"):
        tid = tokenizer.convert_tokens_to_ids(name)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return ids


@lru_cache(maxsize=8)
def vocab_info(tokenizer) -> VocabInfo:
    """Classify every token id of `tokenizer` (about a second for a 50k vocabulary)."""
    size = len(tokenizer)
    texts = tokenizer.batch_decode([[i] for i in range(size)])
    ends = _end_ids(tokenizer)
    special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    terminal, breaks = [], []
    for i, t in enumerate(texts):
        core = t.strip()
        if "\n" in t:
            breaks.append(i)
        elif core and len(core) <= 3 and core.rstrip("\"')]")[-1:] in {".", "!", "?"}:
            terminal.append(i)
    banned = sorted(i for i in special if i not in ends and i < size)
    return VocabInfo(tuple(sorted(ends)), tuple(terminal), tuple(breaks), tuple(banned))

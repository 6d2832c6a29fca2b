"""The coherence reranker: which of N candidate sentences continues the story best.

A small discriminator scores (story so far, candidate). It reads sentence embeddings
from the ranker's encoder (all-MiniLM-L6-v2, already loaded for knowledge ranking) for
the story, its latest sentence, the premise and the candidate, plus a few features of the
text itself (does the candidate bring in a name the story does not have, does it copy
the story's 4-grams or repeat a sentence, its length), and returns the probability that
the candidate is the story's real next sentence. It is trained on real next sentences
against Story Cloze wrong endings, sentences of other stories with the same keyword, the
story's own sentences out of order or repeated, and real sentences with a character's
name swapped (`python -m engine train-coherence`).

`choose` keeps keyword inclusion as a hard preference: among the candidates that carry
every keyword, the best-scored one; only when none does, the best-scored of all.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from engine.names import new_names
from engine.paths import asset

EMBED_DIM = 384  # all-MiniLM-L6-v2
HAND_FEATURES = ("new_name", "copied_4grams", "repeats_sentence", "length", "cos_story", "cos_last", "cos_premise")
COHERENCE_FILE = "coherence.pt"
DEFAULT_COHERENCE = asset("coherence")  # the shipped reranker
COHERENCE_MANIFEST = "coherence.json"


@dataclass(frozen=True)
class CoherenceConfig:
    """Shape of the discriminator."""

    embed_dim: int = EMBED_DIM
    hidden: int = 128
    dropout: float = 0.1

    @classmethod
    def from_name(cls, name: str) -> CoherenceConfig:
        presets = {"default": {}, "tiny": {"embed_dim": 16, "hidden": 8}}
        if name not in presets:
            raise ValueError(f"unknown coherence preset {name!r}; choose from {', '.join(presets)}")
        return cls(**presets[name])


_WORDS = re.compile(r"[a-z']+")


def _ngrams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def text_features(premise: str, sentences: list[str], candidate: str) -> list[float]:
    """The candidate's text features against the story (the first four of HAND_FEATURES)."""
    story = [premise, *sentences]
    grams = _ngrams(candidate)
    seen = set().union(*(_ngrams(s) for s in story)) if story else set()
    copied = len(grams & seen) / len(grams) if grams else 0.0
    norm = " ".join(_WORDS.findall(candidate.lower()))
    repeats = any(norm and norm == " ".join(_WORDS.findall(s.lower())) for s in story)
    return [float(bool(new_names(candidate, story))), copied, float(repeats), min(len(norm.split()), 40) / 20.0]


class CoherenceScorer(torch.nn.Module):
    """MLP over [story*cand, |story-cand|, last*cand, cand] embeddings and the hand features."""

    def __init__(self, config: CoherenceConfig):
        super().__init__()
        self.config = config
        width = 4 * config.embed_dim + len(HAND_FEATURES)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(width, config.hidden), torch.nn.GELU(), torch.nn.Dropout(config.dropout),
            torch.nn.Linear(config.hidden, 1),
        )

    @staticmethod
    def inputs(story: torch.Tensor, last: torch.Tensor, premise: torch.Tensor, cand: torch.Tensor,
               hand: torch.Tensor) -> torch.Tensor:
        """Feature rows from unit embeddings (N, D) each and text features (N, 4) -> (N, 4D + 7)."""
        cosines = torch.stack([(story * cand).sum(-1), (last * cand).sum(-1), (premise * cand).sum(-1)], dim=-1)  # (N, 3)
        return torch.cat([story * cand, (story - cand).abs(), last * cand, cand, hand, cosines], dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, F) -> (N,) logits: real next sentence vs not."""
        return self.net(features).squeeze(-1)


class CoherenceReranker:
    """Scores candidates with a trained `CoherenceScorer` over an embedding encoder."""

    def __init__(self, scorer: CoherenceScorer, encode):
        self.scorer = scorer.eval()
        self.encode = encode  # list[str] -> (N, D) unit embeddings

    def features(self, premise: str, sentences: list[str], candidates: list[str]) -> torch.Tensor:
        """Feature rows of each candidate after the story: (len(candidates), F)."""
        story_text = " ".join([premise, *sentences])
        last = sentences[-1] if sentences else premise
        vectors = self.encode([story_text, last, premise, *candidates])  # (3 + N, D)
        n = len(candidates)
        hand = torch.tensor([text_features(premise, sentences, c) for c in candidates], dtype=vectors.dtype)  # (N, 4)
        return CoherenceScorer.inputs(vectors[0:1].expand(n, -1), vectors[1:2].expand(n, -1),
                                      vectors[2:3].expand(n, -1), vectors[3:], hand)

    @torch.no_grad()
    def score(self, premise: str, sentences: list[str], candidates: list[str]) -> list[float]:
        """Probability that each candidate is the story's real next sentence."""
        if not candidates:
            return []
        return torch.sigmoid(self.scorer(self.features(premise, sentences, candidates))).tolist()


def choose(candidates: list[str], scores: list[float], keywords: list[str]) -> int:
    """Index of the best-scored candidate among those carrying every keyword (else among all)."""
    from engine.inflect import mentions

    if not candidates:
        return 0
    carrying = [i for i, c in enumerate(candidates) if all(mentions(c, k) for k in keywords)]
    pool = carrying or list(range(len(candidates)))
    return max(pool, key=lambda i: (scores[i], -i))


def save_scorer(scorer: CoherenceScorer, folder: Path, manifest: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(scorer.state_dict(), folder / COHERENCE_FILE)
    info = {"config": asdict(scorer.config), **manifest}
    (folder / COHERENCE_MANIFEST).write_text(json.dumps(info, indent=1), encoding="utf-8")


def load_scorer(folder: Path) -> CoherenceScorer:
    """A trained scorer from `folder` (coherence.pt + coherence.json)."""
    folder = Path(folder)
    if not (folder / COHERENCE_FILE).is_file():
        raise FileNotFoundError(f"no coherence reranker in {folder}: train one with `python -m engine train-coherence`")
    info = json.loads((folder / COHERENCE_MANIFEST).read_text(encoding="utf-8"))
    scorer = CoherenceScorer(CoherenceConfig(**info["config"]))
    scorer.load_state_dict(torch.load(folder / COHERENCE_FILE, map_location="cpu", weights_only=True))
    return scorer


def ranker_encoder(ranker):
    """The embedding function of an `EmbeddingRanker` (unit vectors, (N, D))."""
    return lambda texts: ranker._encode(list(texts)).float().cpu()

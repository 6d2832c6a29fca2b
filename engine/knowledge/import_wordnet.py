"""Building the default knowledge base from WordNet 3.0 through NLTK's reader.

Relations: IsA (hypernyms), PartOf / HasA (part holonyms / meronyms), MadeOf
(substance meronyms), Synonym, Antonym, DefinedAs (glosses), Entails and Causes
(verbs), and Example (the synset's usage examples). Weights favour frequent
senses: 1 + log1p(tagged count of the lemma), so "dog" the animal comes before
"dog" the villain.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from engine.knowledge.wordnet_data import load_wordnet, sense_counts
from engine.knowledge.writer import EdgeWriter, ImportReport

SOURCE_WORDNET = "wordnet"
EXPECTED_SYNSETS = 117_659  # WordNet 3.0
TEXT_RELATIONS = frozenset({"DefinedAs", "Example"})


@dataclass(frozen=True)
class WordNetBuildConfig:
    """How much of WordNet to turn into edges."""

    lemmas_per_synset: int = 3  # fan-out cap on each side of a synset-to-synset link
    max_synsets: int | None = None  # a subset, for tests

    @classmethod
    def from_name(cls, name: str) -> WordNetBuildConfig:
        presets = {"full": {}, "tiny": {"lemmas_per_synset": 2, "max_synsets": 3000}}
        if name not in presets:
            raise ValueError(f"unknown WordNet preset {name!r}; choose from {', '.join(presets)}")
        return cls(**presets[name])


def _name(lemma) -> str:
    return lemma.name().replace("_", " ")


def _weight(lemma) -> float:
    return 1.0 + math.log1p(sense_counts(lemma._wordnet_corpus_reader).get(lemma.key(), 0))


def _lemma_links(synset, others, relation: str, cap: int) -> Iterator[tuple[str, str, str, float]]:
    """Cross product of a few lemmas of `synset` with a few of each linked synset."""
    for other in others:
        for lemma in synset.lemmas()[:cap]:
            for target in other.lemmas()[:cap]:
                yield relation, _name(lemma), _name(target), _weight(lemma)


def synset_edges(synset, cap: int) -> Iterator[tuple[str, str, str, float]]:
    """All (relation, head, tail, weight) edges contributed by one synset."""
    yield from _lemma_links(synset, synset.hypernyms() + synset.instance_hypernyms(), "IsA", cap)
    yield from _lemma_links(synset, synset.part_holonyms(), "PartOf", cap)
    yield from _lemma_links(synset, synset.part_meronyms(), "HasA", cap)
    yield from _lemma_links(synset, synset.substance_meronyms(), "MadeOf", cap)
    yield from _lemma_links(synset, synset.entailments(), "Entails", cap)
    yield from _lemma_links(synset, synset.causes(), "Causes", cap)
    lemmas = synset.lemmas()
    for i, lemma in enumerate(lemmas):
        for other in lemmas[i + 1 :]:
            yield "Synonym", _name(lemma), _name(other), _weight(lemma)
        for antonym in lemma.antonyms():
            yield "Antonym", _name(lemma), _name(antonym), _weight(lemma)
    gloss = synset.definition().strip()
    for lemma in lemmas[:cap]:
        if gloss:
            yield "DefinedAs", _name(lemma), gloss, _weight(lemma)
        for example in synset.examples():
            yield "Example", _name(lemma), example.strip().strip('"'), _weight(lemma)


def build_wordnet(
    *,
    kb: Path,
    data_dir_override: str | Path | None = None,
    config: WordNetBuildConfig | None = None,
) -> ImportReport:
    """Write WordNet's edges into the store (replacing earlier WordNet edges).

    Args:
        kb: the knowledge store to write.
        data_dir_override: data directory holding `nltk_data` (default: the product's).
        config: fan-out cap and optional subset size.

    Raises:
        FileNotFoundError: no WordNet data (NLTK's own, or Debian's packages).
    """
    config = config or WordNetBuildConfig()
    wordnet = load_wordnet(data_dir_override)
    if wordnet is None:
        raise FileNotFoundError(
            "WordNet not found: apt-get install -y wordnet-base wordnet-sense-index "
            "(or install NLTK's wordnet data), then run this command again"
        )
    total = config.max_synsets or EXPECTED_SYNSETS
    report = ImportReport(source=SOURCE_WORDNET, path=str(Path(wordnet.root.path)))
    with EdgeWriter(kb, source=SOURCE_WORDNET, report=report) as writer:
        synsets = wordnet.all_synsets()
        for index, synset in enumerate(tqdm(synsets, total=total, unit="synset", desc="build wordnet")):
            if config.max_synsets is not None and index >= config.max_synsets:
                break
            pos = synset.pos()
            for relation, head, tail, weight in synset_edges(synset, config.lemmas_per_synset):
                sentence = writer.renderer.render(relation, head, tail, pos=pos)
                # a gloss or an example is text, not a concept: found by its head only
                writer.add(relation, head, tail, weight, sentence=sentence, index_tail=relation not in TEXT_RELATIONS)
    return report

"""Antonyms for the swapped-keyword system: ConceptNet's /r/Antonym list, WordNet as fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.paths import shared_file


@dataclass
class AntonymTable:
    """word -> antonyms, read from a `word|||/r/Antonym|||a b c` file (never copied in)."""

    table: dict[str, list[str]] = field(default_factory=dict)
    use_wordnet: bool = True

    @classmethod
    def load(cls, path: str | Path | None = None, *, use_wordnet: bool = True) -> AntonymTable:
        """Read the ConceptNet antonym file; a missing file leaves only WordNet."""
        table: dict[str, list[str]] = {}
        source = Path(path) if path else _default_file()
        if source is not None and source.is_file():
            for line in source.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split("|||")
                if len(parts) == 3 and parts[1] == "/r/Antonym" and parts[2].strip():
                    table[parts[0].strip().lower()] = parts[2].split()
        return cls(table=table, use_wordnet=use_wordnet)

    def antonym(self, word: str) -> str | None:
        """The first antonym of `word`, or `None` when neither source knows one."""
        found = self.table.get(word.lower())
        if found:
            return found[0]
        return _wordnet_antonym(word) if self.use_wordnet else None

    def swap(self, keywords: list[str]) -> tuple[list[str], int]:
        """Each keyword replaced by its antonym where one exists; returns (keywords, swapped)."""
        out, swapped = [], 0
        for word in keywords:
            other = self.antonym(word)
            out.append(other or word)
            swapped += other is not None
        return out, swapped


def _default_file() -> Path | None:
    """The shared data copy next to the repository, if present."""
    candidate = shared_file("conceptnet", "union", "conceptnet_antonym.txt")
    return candidate if candidate.is_file() else None


def _wordnet_antonym(word: str) -> str | None:
    """First WordNet antonym through NLTK, or `None` when WordNet is not installed."""
    try:
        from nltk.corpus import wordnet

        for synset in wordnet.synsets(word):
            for lemma in synset.lemmas():
                if lemma.antonyms():
                    return lemma.antonyms()[0].name().replace("_", " ")
    except (LookupError, ImportError, OSError):
        return None
    return None

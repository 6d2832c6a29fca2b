"""Retrieval: keywords -> lemma keys -> edges whose head or tail matches.

For each key the store's index yields edge ids in weight order, so one lookup reads
only the best `per_key` rows however common the concept is. Results are
de-duplicated (same relation, head and tail from several sources), capped per
relation, ordered by weight and cut to `limit`.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from engine.knowledge.lemmas import backend_name, keyword_keys
from engine.types import Fact


@dataclass(frozen=True)
class RetrievalConfig:
    """Knobs of the store retriever."""

    per_relation: int = 10  # at most this many facts of one relation
    per_key: int = 200  # best-weighted edges read per lookup key


_KEY_QUERY = "SELECT edge_id FROM edge_keys WHERE key = ? ORDER BY weight DESC LIMIT ?"
_EDGE_QUERY = "SELECT id, relation, head, tail, sentence, weight, source FROM edges WHERE id IN ({})"


class StoreRetriever:
    """Retrieves facts from a knowledge store file, opened read-only.

    The hot path uses the sqlite3 driver directly on a `mode=ro` connection: two
    indexed queries per retrieval, well under a millisecond each.
    """

    def __init__(self, kb_path: str | Path, config: RetrievalConfig | None = None):
        self.path = Path(kb_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no knowledge base at {self.path}")
        self.config = config or RetrievalConfig()
        self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self._check_normaliser()

    def _check_normaliser(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'normaliser'").fetchone()
        if row and row[0] != backend_name():
            warnings.warn(
                f"knowledge base keys were built with the {row[0]} normaliser but "
                f"{backend_name()} is active; some keywords may not match",
                stacklevel=2,
            )

    def close(self) -> None:
        self._conn.close()

    def retrieve(self, keywords: list[str], limit: int = 50) -> list[Fact]:
        """Facts for the keywords, best weight first.

        Args:
            keywords: words or phrases; each is lemmatised before lookup.
            limit: maximum number of facts returned.
        """
        keys = list(dict.fromkeys(k for word in keywords for k in keyword_keys(word)))
        if not keys or limit <= 0:
            return []
        edge_ids: list[int] = []
        for key in keys:
            edge_ids.extend(row[0] for row in self._conn.execute(_KEY_QUERY, (key, self.config.per_key)))
        if not edge_ids:
            return []
        unique_ids = list(dict.fromkeys(edge_ids))
        rows = []
        for start in range(0, len(unique_ids), 900):  # stay under SQLite's variable limit
            chunk = unique_ids[start : start + 900]
            rows.extend(self._conn.execute(_EDGE_QUERY.format(",".join("?" * len(chunk))), chunk))
        return self._select(rows, limit)

    def _select(self, rows: list[tuple], limit: int) -> list[Fact]:
        rows.sort(key=lambda r: (-r[5], r[0]))
        seen: set[tuple[str, str, str]] = set()
        per_relation: Counter = Counter()
        facts: list[Fact] = []
        for _, relation, head, tail, sentence, weight, source in rows:
            triple = (relation, head.lower(), tail.lower())
            if triple in seen or per_relation[relation] >= self.config.per_relation:
                continue
            seen.add(triple)
            per_relation[relation] += 1
            facts.append(Fact(relation, head, tail, sentence, float(weight), source))
            if len(facts) >= limit:
                break
        return facts

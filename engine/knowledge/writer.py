"""Bulk writing into the knowledge store, shared by every importer.

Edges go in by batches of plain executemany inserts; their lookup keys go into a
staging table first and are copied, sorted, into the `edge_keys` index when the
import finishes (building the index after the load is much faster than keeping it
sorted row by row). Re-importing a source replaces its edges.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, select, text

from engine.knowledge.lemmas import backend_name, concept_keys, words
from engine.knowledge.store import Edge, EdgeKey, Meta, open_for_write
from engine.knowledge.templates import TemplateRenderer

STAGE_TABLE = "stage_keys"
_EDGE_INSERT = (
    f"INSERT INTO {Edge.__tablename__} (id, relation, head, tail, weight, source, sentence) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class ImportReport:
    """What one import did: rows kept, rows skipped by reason, time taken."""

    source: str
    path: str = ""
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    @property
    def rows(self) -> int:
        return self.kept + sum(self.skipped.values())

    @property
    def edges_per_s(self) -> float:
        return self.kept / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """Human-readable summary lines."""
        lines = [
            f"{self.source}: {self.rows:,} rows read from {self.path or '-'}",
            f"  kept {self.kept:,} edges in {self.seconds:.1f} s ({self.edges_per_s:,.0f} edges/s)",
        ]
        total_skipped = sum(self.skipped.values())
        lines.append(f"  skipped {total_skipped:,} rows")
        for reason, count in self.skipped.most_common():
            lines.append(f"    {count:>10,}  {reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "path": self.path,
            "rows": self.rows,
            "kept": self.kept,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "edges_per_s": round(self.edges_per_s, 1),
        }


class EdgeWriter:
    """Context manager that streams edges of one source into the store.

    Usage:
        with EdgeWriter(path, source="cn100k", report=report) as writer:
            writer.add("IsA", "dog", "animal", 1.0)
    """

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        report: ImportReport | None = None,
        batch_size: int = 20_000,
        renderer: TemplateRenderer | None = None,
    ):
        self.path = Path(path)
        self.source = source
        self.report = report or ImportReport(source=source, path=str(path))
        self.batch_size = batch_size
        self.renderer = renderer or TemplateRenderer()
        self._edges: list[tuple] = []
        self._keys: list[tuple[str, float, int]] = []
        self._seen: set[int] = set()
        self._conn: Connection | None = None
        self._next_id = 1
        self._started = 0.0

    def __enter__(self) -> EdgeWriter:
        self._started = time.perf_counter()
        engine = open_for_write(self.path)
        self._conn = engine.connect()
        self._conn.begin()
        self._remove_source()
        self._conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (key TEXT, weight REAL, edge_id INTEGER)"
        )
        self._next_id = (self._conn.scalar(select(func.max(Edge.id))) or 0) + 1
        return self

    def _remove_source(self) -> None:
        """Delete this source's earlier edges so a re-import replaces them."""
        ids = select(Edge.id).where(Edge.source == self.source)
        if self._conn.scalar(select(func.count()).select_from(ids.subquery())):
            self._conn.execute(delete(EdgeKey).where(EdgeKey.edge_id.in_(ids)))
            self._conn.execute(delete(Edge).where(Edge.source == self.source))

    def add(
        self, relation: str, head: str, tail: str, weight: float, *, sentence: str | None = None, index_tail: bool = True
    ) -> bool:
        """Queue one edge; returns False (and counts a skip) for a duplicate or empty one.

        Args:
            index_tail: also find the edge by its tail (off for glosses and examples).
        """
        head, tail = head.strip(), tail.strip()
        head_keys = concept_keys(head)
        tail_keys = concept_keys(tail) if index_tail else (() if not words(tail) else ("",))
        if not head_keys or not tail_keys:
            self.report.skip("concept without letters or digits")
            return False
        fingerprint = hash((relation, head.lower(), tail.lower()))
        if fingerprint in self._seen:
            self.report.skip("duplicate edge")
            return False
        self._seen.add(fingerprint)
        edge_id = self._next_id
        self._next_id += 1
        sentence = sentence or self.renderer.render(relation, head, tail)
        self._edges.append((edge_id, relation, head, tail, weight, self.source, sentence))
        for key in dict.fromkeys(head_keys + tail_keys if index_tail else head_keys):
            self._keys.append((key, weight, edge_id))
        self.report.kept += 1
        if len(self._edges) >= self.batch_size:
            self.flush()
        return True

    def flush(self) -> None:
        """Write queued edges and staged keys."""
        if self._edges:  # plain executemany: the ORM's per-row bookkeeping costs 3x here
            self._conn.exec_driver_sql(_EDGE_INSERT, self._edges)
            self._edges = []
        if self._keys:
            self._conn.exec_driver_sql(
                f"INSERT INTO {STAGE_TABLE} (key, weight, edge_id) VALUES (?, ?, ?)", self._keys
            )
            self._keys = []

    def __exit__(self, exc_type, exc, tb) -> None:
        conn, self._conn = self._conn, None
        try:
            if exc_type is None:
                self._finish(conn)
                conn.commit()
            else:
                conn.rollback()
        finally:
            conn.close()
            conn.engine.dispose()
            self.report.seconds = time.perf_counter() - self._started

    def _finish(self, conn: Connection) -> None:
        self._conn = conn
        self.flush()
        # Sorted copy: the WITHOUT ROWID index is then appended in order.
        conn.exec_driver_sql(
            f"INSERT OR IGNORE INTO {EdgeKey.__tablename__} (key, weight, edge_id) "
            f"SELECT key, weight, edge_id FROM {STAGE_TABLE} ORDER BY key, weight, edge_id"
        )
        conn.exec_driver_sql(f"DROP TABLE {STAGE_TABLE}")
        for key, value in (("normaliser", backend_name()), (f"source:{self.source}", str(self.report.kept))):
            conn.execute(delete(Meta).where(Meta.key == key))
            conn.execute(insert(Meta).values(key=key, value=value))
        conn.execute(text("ANALYZE"))
        self._conn = None

"""The knowledge store: one SQLite file of edges, indexed by normalised concept.

Tables:
  edges     (id, relation, head, tail, weight, source, sentence)
  edge_keys (key, weight, edge_id), a WITHOUT ROWID table whose primary key is
            the lookup index: the edges of a concept key come out in weight order.
  meta      (key, value): normaliser used for keys, sources built, ...

Writers use `open_for_write`; readers use `open_read_only`, which opens the file
with SQLite's `mode=ro`, so many processes can share one store safely.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, String, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from engine.paths import data_dir

KB_ENV_VAR = "CNTRL_KB"
KB_FILENAME = "knowledge.db"


class Base(DeclarativeBase):
    pass


class Edge(Base):
    __tablename__ = "edges"

    id: Mapped[int] = mapped_column(primary_key=True)
    relation: Mapped[str] = mapped_column(String(64))
    head: Mapped[str]
    tail: Mapped[str]
    weight: Mapped[float]
    source: Mapped[str] = mapped_column(String(32))
    sentence: Mapped[str]


class EdgeKey(Base):
    __tablename__ = "edge_keys"
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[str] = mapped_column(primary_key=True)
    weight: Mapped[float] = mapped_column(primary_key=True)
    edge_id: Mapped[int] = mapped_column(primary_key=True)


class Meta(Base):
    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str]


def kb_path(*, data_dir_override: str | Path | None = None, kb: str | Path | None = None) -> Path:
    """Where the store lives: the `--kb` flag, then `CNTRL_KB`, then `<data_dir>/knowledge.db`."""
    raw = kb or os.environ.get(KB_ENV_VAR)
    if raw:
        return Path(raw).expanduser().resolve()
    return data_dir(data_dir_override) / KB_FILENAME


def _fast_write_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=DELETE")  # readers need no -shm file
    cursor.execute("PRAGMA synchronous=OFF")  # a crashed import is simply re-run
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def open_for_write(path: Path) -> Engine:
    """Engine for building the store; creates the file and tables if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite+pysqlite:///{path}")
    event.listen(engine, "connect", _fast_write_pragmas)
    Base.metadata.create_all(engine)
    return engine


class DamagedStore(ValueError):
    """The knowledge store file is cut short or not a knowledge store; the message names the rebuild command."""


def rebuild_command(path: Path) -> str:
    """The command that builds the default store at `path` afresh."""
    return f"python -m engine kb build-wordnet --force --kb {path}"


def check_store_file(path: Path) -> None:
    """Raise `DamagedStore` when `path` is not SQLite or is shorter than its header says (a cut copy).

    An empty file passes: it is an empty store. The header's page count is trusted only when
    SQLite marks it valid (the change counter equals the version-valid-for number).
    """
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise DamagedStore(f"knowledge base {path} is not a SQLite knowledge store; rebuild it: {rebuild_command(path)}")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size  # the format stores 64 KiB as 1
    expected = int.from_bytes(header[28:32], "big") * page_size
    if header[24:28] == header[92:96] and size < expected:
        raise DamagedStore(f"knowledge base {path} is cut short ({size:,} of {expected:,} bytes); "
                           f"rebuild it: {rebuild_command(path)}")


def open_read_only(path: Path) -> Engine:
    """Engine that opens the store read-only (`mode=ro`); the file must exist and be whole."""
    if not path.is_file():
        raise FileNotFoundError(f"no knowledge base at {path}")
    check_store_file(path)
    uri = f"file:{quote(str(path))}?mode=ro"
    return create_engine(f"sqlite+pysqlite:///{uri}&uri=true")


def store_stats(session: Session, path: Path) -> dict:
    """`{"edges", "relations": {name: count}, "sources": {name: count}, "bytes"}`."""
    relations = session.execute(
        select(Edge.relation, func.count()).group_by(Edge.relation).order_by(func.count().desc())
    ).all()
    sources = session.execute(
        select(Edge.source, func.count()).group_by(Edge.source).order_by(func.count().desc())
    ).all()
    return {
        "edges": sum(n for _, n in relations),
        "relations": {name: n for name, n in relations},
        "sources": {name: n for name, n in sources},
        "bytes": path.stat().st_size if path.exists() else 0,
        "path": str(path),
    }

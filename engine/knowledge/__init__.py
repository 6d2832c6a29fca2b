"""The knowledge stage: a store of commonsense edges, a retriever and a ranker.

`load_default_stage` gives the pipeline what it needs from this package.
"""

from __future__ import annotations

from pathlib import Path

from engine.knowledge.base import NullRetriever, Ranker, Retriever, make_ranker, make_retriever


def load_default_stage(
    data_dir: str | Path | None = None, kb_path: str | Path | None = None, *, ranker: str = "embedding"
) -> tuple[Retriever, Ranker, str]:
    """The default retriever and ranker, plus a one-line description for the Step.

    With no store (or an empty one) the retriever is a NullRetriever, so the
    pipeline still writes, and the description says why. A damaged store (a cut copy)
    raises `DamagedStore` instead: writing on without the knowledge the writer asked for
    would hide the fault.

    Args:
        data_dir: data directory override (the `--data-dir` flag).
        kb_path: knowledge store override (the `--kb` flag); else `CNTRL_KB`, else
            `<data_dir>/knowledge.db`.
        ranker: registered ranker name ("embedding" by default, "null" to skip the model).
    """
    from engine.knowledge.store import kb_path as resolve_kb

    path = resolve_kb(data_dir_override=data_dir, kb=kb_path)
    chosen_ranker = make_ranker(ranker)
    edges = _edge_count(path)
    if edges == 0:
        reason = "is empty" if path.is_file() else "does not exist"
        hint = "run: python -m engine kb build-wordnet"
        return NullRetriever(), chosen_ranker, f"no knowledge base at {path} (it {reason}; {hint})"
    retriever = make_retriever("store", kb_path=path)
    return retriever, chosen_ranker, f"knowledge base {path} ({edges:,} edges), ranker {ranker}"


def _edge_count(path: Path) -> int:
    """Edges in the store; 0 when the file is missing or has no edges table.

    Raises:
        DamagedStore: the file is cut short or unreadable (names the command that rebuilds it).
    """
    import sqlite3

    from engine.knowledge.store import DamagedStore, check_store_file, rebuild_command

    if not path.is_file():
        return 0
    check_store_file(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM edges").fetchone()[0] or 0
        finally:
            conn.close()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return 0
        raise DamagedStore(f"knowledge base {path} cannot be read ({error}); rebuild it: {rebuild_command(path)}") from None
    except sqlite3.DatabaseError as error:  # "database disk image is malformed" and kin
        raise DamagedStore(f"knowledge base {path} is damaged ({error}); rebuild it: {rebuild_command(path)}") from None

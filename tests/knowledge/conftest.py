"""Fixtures for knowledge tests: a private data directory and small store files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Point the data directory at tmp_path and drop any store override."""
    monkeypatch.setenv("CNTRL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CNTRL_KB", raising=False)
    return tmp_path / "data"


def _write_lines(path: Path, lines: list[str], *, compress: bool = False) -> Path:
    """Write text lines (newline-terminated), gzip-compressed when asked."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def write_lines():
    return _write_lines


CN100K_ROWS = [
    "ReceivesAction\thockey\tplay on ice\t3.46",
    "IsA\tdog\tanimal\t3.0",
    "IsA\tdog\tpet\t2.5",
    "IsA\tdog\tmammal\t2.0",
    "CapableOf\tdog\tbark\t2.8",
    "AtLocation\tdog\tkennel\t1.5",
    "UsedFor\tphone\tcall friend\t2.2",
    "HasA\tphone\tbattery\t1.9",
    "Causes\tflat tire\tbe late\t1.2",
]


@pytest.fixture
def cn100k_file(tmp_path) -> Path:
    return _write_lines(tmp_path / "train.txt", CN100K_ROWS)


@pytest.fixture
def small_kb(tmp_path, cn100k_file) -> Path:
    from engine.knowledge.import_conceptnet import import_cn100k

    kb = tmp_path / "kb.db"
    import_cn100k(path=cn100k_file, kb=kb)
    return kb


@pytest.fixture
def wordnet():
    """The WordNet reader; skips the test when WordNet is not installed."""
    from engine.knowledge.lemmas import active_wordnet

    reader = active_wordnet()
    if reader is None:
        pytest.skip("WordNet not installed (apt-get install wordnet-base wordnet-sense-index)")
    return reader

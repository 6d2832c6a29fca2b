"""Importers for ConceptNet: the official 5.x assertions CSV and the ConceptNet-100k TSV.

Both stream their file line by line (plain or gzip), show a progress bar over the
bytes read, skip malformed rows with a count per reason, and never load the file
whole.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from engine.knowledge.writer import EdgeWriter, ImportReport

GZIP_MAGIC = b"\x1f\x8b"
SOURCE_CONCEPTNET = "conceptnet5"
SOURCE_CN100K = "cn100k"


def _check_text_file(path: Path) -> bool:
    """Raise for a missing or binary file; returns True when the file is gzip."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    with path.open("rb") as raw:
        is_gzip = raw.read(2) == GZIP_MAGIC
    opener = gzip.open if is_gzip else open
    try:
        with opener(path, "rb") as handle:
            sample = handle.read(8192)
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if b"\x00" in sample:
        raise ValueError(f"{path} looks like a binary file, not tab-separated text")
    return is_gzip


def stream_lines(path: Path, *, desc: str) -> Iterator[bytes | None]:
    """Yield raw lines of a text or gzip file with a byte progress bar.

    Yields None instead of raising when a gzip stream turns out truncated or corrupt,
    then stops.
    """
    path = Path(path)
    is_gzip = _check_text_file(path)
    total = path.stat().st_size
    with path.open("rb") as raw, tqdm(total=total, unit="B", unit_scale=True, desc=desc) as bar:
        handle = gzip.GzipFile(fileobj=raw) if is_gzip else io.BufferedReader(raw)
        position = 0
        try:
            for index, line in enumerate(handle):
                yield line
                if index % 4096 == 0:
                    bar.update(raw.tell() - position)
                    position = raw.tell()
        except (OSError, EOFError):
            yield None  # truncated or corrupt gzip: count it, keep what was read
        bar.update(total - position)


def _decode(line: bytes, report: ImportReport) -> str | None:
    try:
        return line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        report.skip("not valid UTF-8")
        return None


def _import_rows(path: Path, kb: Path, source: str, parse) -> ImportReport:
    """Stream `path`, parse each non-blank UTF-8 line with `parse`, write the edges."""
    _check_text_file(Path(path))  # refuse a missing or binary file before touching the store
    report = ImportReport(source=source, path=str(path))
    lines = stream_lines(Path(path), desc=f"import {source}")
    with EdgeWriter(kb, source=source, report=report) as writer:
        for line in lines:
            if line is None:
                report.skip("file ends in a corrupt or truncated gzip block")
                break
            text = _decode(line, report)
            if text is None:
                continue
            if not text.strip():
                report.skip("blank line")
                continue
            parsed = parse(text, report)
            if parsed is not None:
                writer.add(*parsed)
    return report


def _cn100k_row(text: str, report: ImportReport) -> tuple[str, str, str, float] | None:
    """Parse `relation<TAB>head<TAB>tail<TAB>score`, or count a skip."""
    fields = text.split("\t")
    if len(fields) != 4:
        report.skip(f"wrong column count ({len(fields)}, expected 4)")
        return None
    relation, head, tail, score = (f.strip() for f in fields)
    try:
        weight = float(score)
    except ValueError:
        report.skip("score is not a number")
        return None
    if not relation.isidentifier():
        report.skip("malformed relation name")
        return None
    return relation, head, tail, weight


def import_cn100k(*, path: Path, kb: Path, source: str = SOURCE_CN100K) -> ImportReport:
    """Import a ConceptNet-100k file: `relation<TAB>head<TAB>tail<TAB>score` per line.

    Args:
        path: the TSV file, plain or gzip (e.g. `train100k.txt.gz`).
        kb: the knowledge store to write.
        source: source name recorded on each edge (re-importing it replaces those edges).

    Returns:
        The import report (rows kept and skipped by reason).
    """
    return _import_rows(path, kb, source, _cn100k_row)


def parse_concept(uri: str) -> str | None:
    """'/c/en/ice_hockey/n' -> 'ice hockey'; None for a non-English or malformed URI."""
    parts = uri.split("/")
    if len(parts) < 4 or parts[1] != "c" or parts[2] != "en" or not parts[3]:
        return None
    return parts[3].replace("_", " ")


def parse_relation(uri: str) -> str | None:
    """'/r/IsA' -> 'IsA', '/r/dbpedia/genre' -> 'dbpedia/genre'; None if malformed."""
    if not uri.startswith("/r/") or len(uri) <= 3:
        return None
    return uri[3:]


def _assertion(text: str, report: ImportReport) -> tuple[str, str, str, float] | None:
    """Parse one assertions line into (relation, head, tail, weight), or count a skip."""
    fields = text.split("\t")
    if len(fields) != 5:
        report.skip(f"wrong column count ({len(fields)}, expected 5)")
        return None
    _, relation_uri, start, end, info = fields
    if not (start.startswith("/c/en/") and end.startswith("/c/en/")):
        report.skip("not an English-English edge")
        return None
    relation, head, tail = parse_relation(relation_uri), parse_concept(start), parse_concept(end)
    if relation is None or head is None or tail is None:
        report.skip("malformed relation or concept URI")
        return None
    try:
        weight = float(json.loads(info).get("weight", 1.0))
    except (ValueError, TypeError, AttributeError):
        report.skip("malformed JSON info or weight")
        return None
    return relation, head, tail, weight


def import_conceptnet(*, path: Path, kb: Path, source: str = SOURCE_CONCEPTNET) -> ImportReport:
    """Import the official ConceptNet 5 assertions file, keeping English-English edges.

    Args:
        path: `conceptnet-assertions-5.x.csv.gz` (or a plain/gzip file of the same
            tab-separated columns: URI, relation, start, end, JSON info).
        kb: the knowledge store to write.
        source: source name recorded on each edge.

    Returns:
        The import report.
    """
    return _import_rows(path, kb, source, _assertion)

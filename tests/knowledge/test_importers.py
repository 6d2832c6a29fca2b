"""Importers on small files: good rows, malformed rows, bad files."""

from __future__ import annotations

import gzip
import json
import sqlite3

import pytest

from engine.knowledge.import_conceptnet import import_cn100k, import_conceptnet, parse_concept


def _edges(kb):
    with sqlite3.connect(kb) as conn:
        return conn.execute("SELECT relation, head, tail, weight, source, sentence FROM edges ORDER BY id").fetchall()


def test_cn100k_keeps_good_rows_and_counts_bad_ones(tmp_path, write_lines):
    path = write_lines(tmp_path / "cn.txt", [
        "IsA\tdog\tanimal\t3.0",
        "UsedFor\tknife\tcut bread\t2.0",
        "IsA\tdog\tanimal\t1.0",          # duplicate triple
        "IsA\tcat",                        # too few columns
        "IsA\tcat\tpet\t1\textra",         # too many columns
        "IsA\tcat\tpet\tnot-a-number",
        "",
        "IsA\t!!!\tpet\t1.0",              # concept without letters
    ])  # fmt: skip
    report = import_cn100k(path=path, kb=tmp_path / "kb.db")
    assert report.kept == 2
    assert report.skipped["duplicate edge"] == 1
    assert report.skipped["wrong column count (2, expected 4)"] == 1
    assert report.skipped["wrong column count (5, expected 4)"] == 1
    assert report.skipped["score is not a number"] == 1
    assert report.skipped["blank line"] == 1
    assert report.skipped["concept without letters or digits"] == 1
    assert report.rows == 8
    edges = _edges(tmp_path / "kb.db")
    assert [(e[0], e[1], e[2], e[3]) for e in edges] == [("IsA", "dog", "animal", 3.0), ("UsedFor", "knife", "cut bread", 2.0)]
    assert all(e[4] == "cn100k" and e[5].endswith(".") for e in edges)
    assert "kept 2 edges" in report.summary()


def test_invalid_utf8_line_is_skipped(tmp_path):
    path = tmp_path / "cn.txt"
    path.write_bytes(b"IsA\tdog\tanimal\t1.0\nIsA\tcaf\xe9\tplace\t1.0\n")
    report = import_cn100k(path=path, kb=tmp_path / "kb.db")
    assert report.kept == 1 and report.skipped["not valid UTF-8"] == 1


def test_gzip_input_and_reimport_replaces_source(tmp_path, write_lines):
    path = write_lines(tmp_path / "cn.txt.gz", ["IsA\tdog\tanimal\t1.0", "HasA\tdog\ttail\t1.0"], compress=True)
    kb = tmp_path / "kb.db"
    assert import_cn100k(path=path, kb=kb).kept == 2
    assert import_cn100k(path=path, kb=kb).kept == 2
    assert len(_edges(kb)) == 2
    with sqlite3.connect(kb) as conn:
        assert conn.execute("SELECT count(DISTINCT edge_id) FROM edge_keys").fetchone()[0] == 2


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress("".join(f"IsA\tthing{i}\tobject\t1.0\n" for i in range(20000)).encode())
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    report = import_cn100k(path=path, kb=tmp_path / "kb.db")
    assert 0 < report.kept < 20000
    assert report.skipped["file ends in a corrupt or truncated gzip block"] == 1


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        import_cn100k(path=tmp_path / "nope.txt", kb=tmp_path / "kb.db")


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ValueError, match="binary"):
        import_cn100k(path=path, kb=tmp_path / "kb.db")
    assert not (tmp_path / "kb.db").exists()


def test_empty_file_imports_nothing(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    report = import_cn100k(path=path, kb=tmp_path / "kb.db")
    assert report.kept == 0 and report.rows == 0


def _assertion(rel, start, end, info):
    return "\t".join([f"/a/[{rel}/,{start}/,{end}/]", rel, start, end, info])


def test_conceptnet_assertions_keep_english_edges(tmp_path, write_lines):
    path = write_lines(tmp_path / "assertions.csv.gz", [
        _assertion("/r/IsA", "/c/en/ice_hockey/n", "/c/en/sport", json.dumps({"weight": 2.5})),
        _assertion("/r/dbpedia/genre", "/c/en/miles_davis", "/c/en/jazz", json.dumps({"weight": 0.5})),
        _assertion("/r/IsA", "/c/fr/chien", "/c/en/dog", json.dumps({"weight": 1.0})),
        _assertion("/r/ExternalURL", "/c/en/dog", "http://dbpedia.org/resource/Dog", "{}"),
        _assertion("/r/IsA", "/c/en/cat", "/c/en/pet", "{not json"),
        "only\ttwo",
        _assertion("/r/IsA", "/c/en/", "/c/en/pet", "{}"),
    ], compress=True)  # fmt: skip
    report = import_conceptnet(path=path, kb=tmp_path / "kb.db")
    assert report.kept == 2
    assert report.skipped["not an English-English edge"] == 2
    assert report.skipped["malformed JSON info or weight"] == 1
    assert report.skipped["wrong column count (2, expected 5)"] == 1
    assert report.skipped["malformed relation or concept URI"] == 1
    edges = _edges(tmp_path / "kb.db")
    assert edges[0][:5] == ("IsA", "ice hockey", "sport", 2.5, "conceptnet5")
    assert edges[1][:4] == ("dbpedia/genre", "miles davis", "jazz", 0.5)


def test_parse_concept():
    assert parse_concept("/c/en/ice_hockey/n/wn/sport") == "ice hockey"
    assert parse_concept("/c/de/hund") is None
    assert parse_concept("/c/en") is None

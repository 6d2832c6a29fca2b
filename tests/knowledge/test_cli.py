"""The `kb` commands through the engine's CLI entry point."""

from __future__ import annotations

import json

from engine.cli import main


def test_import_stats_and_query(tmp_path, cn100k_file, capsys):
    kb = str(tmp_path / "kb.db")
    assert main(["kb", "import", "cn100k", str(cn100k_file), "--kb", kb]) == 0
    assert "kept 9 edges" in capsys.readouterr().out
    assert main(["kb", "stats", "--json", "--kb", kb]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["edges"] == 9 and stats["sources"] == {"cn100k": 9}
    assert stats["relations"]["IsA"] == 3 and stats["bytes"] > 0
    assert main(["kb", "query", "dog", "--json", "--kb", kb]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert {f["tail"] for f in facts} >= {"animal", "bark"}
    assert set(facts[0]) == {"relation", "head", "tail", "sentence", "weight", "source"}


def test_store_from_data_dir_and_env(tmp_path, cn100k_file, capsys, monkeypatch, private_data_dir):
    assert main(["kb", "import", "cn100k", str(cn100k_file)]) == 0
    assert (private_data_dir / "knowledge.db").is_file()
    monkeypatch.setenv("CNTRL_KB", str(tmp_path / "other.db"))
    assert main(["kb", "import", "cn100k", str(cn100k_file)]) == 0
    assert (tmp_path / "other.db").is_file()
    capsys.readouterr()
    assert main(["kb", "query", "zeppelin"]) == 0
    assert "no facts" in capsys.readouterr().out


def test_bad_input_gives_one_line_errors(tmp_path, capsys):
    kb = str(tmp_path / "kb.db")
    assert main(["kb", "import", "cn100k", str(tmp_path / "missing.txt"), "--kb", kb]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no such file") and err.count("\n") == 1
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    assert main(["kb", "import", "conceptnet", str(binary), "--kb", kb]) == 2
    assert "binary" in capsys.readouterr().err
    assert main(["kb", "stats", "--kb", str(tmp_path / "none.db")]) == 2
    assert "no knowledge base" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert main(["kb", "import", "cn100k", str(empty), "--kb", kb]) == 1
    assert "the file is empty" in capsys.readouterr().out

"""The command line: generate a study with the tiny model, invite, and export results."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from app.studies.cli import main
from storage import Study, StudyItem, create_user, make_engine, make_sessionmaker


def test_create_generated_study_invite_and_results(db_url, tmp_path, capsys, private_data_dir):
    premises = tmp_path / "premises.txt"
    premises.write_text("Ann drove home.\nBob lost his keys.\n")
    factory = make_sessionmaker(make_engine(db_url))
    with factory.begin() as session:
        for name in ("ada", "r1", "r2"):
            create_user(
                session, name=name, password="pw", role="admin" if name == "ada" else "rater"
            )
    code = main(
        [
            "--db",
            db_url,
            "create",
            "--name",
            "gen",
            "--kind",
            "likert",
            "--k",
            "2",
            "--premises",
            str(premises),
            "--limit",
            "2",
            "--systems",
            "plain,no_knowledge",
            "--model",
            "tiny",
            "--predictor",
            "rake",
            "--sentences",
            "1",
            "--raters",
            "r1,r2",
            "--owner",
            "ada",
            "--attention-rate",
            "0.2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "study 1: 4 stories, 10 assignments" in out  # 4 items + 1 check, x2 raters
    assert "plain: model tiny-random, adapter none, backend torch, no knowledge, keywords none" in out
    # r1 and r2 already hold every item k=2 times: no room for an invite unless forced.
    assert main(["--db", db_url, "invite", "--study", "1", "--count", "2"]) == 2
    assert "0 open rater slots and 0 unused invites: room for 0 more invites; pass --force" in capsys.readouterr().err
    assert main(["--db", db_url, "invite", "--study", "1", "--count", "2", "--force"]) == 0
    out = capsys.readouterr().out
    assert out.count("?invite=") == 2 and "study 1 now has 0 open rater slots and 2 unused invites" in out
    assert main(["--db", db_url, "results", "--study", "1", "--resamples", "50"]) == 0
    folder = private_data_dir / "study-1-gen"  # by default, a folder named for the study under the data dir
    assert f"to {folder}" in capsys.readouterr().out
    rows = [json.loads(line) for line in (folder / "study-1-summary.jsonl").read_text().splitlines()]
    systems = {r["system"]: r for r in rows if r["table"] == "systems"}
    assert {r["table"] for r in rows} == {"systems", "agreement"}  # no ratings yet: provenance and empty agreement
    assert systems["plain"]["model"] == "tiny-random" and systems["no_knowledge"]["knowledge_base"] == "none"
    assert sorted(p.name for p in folder.iterdir()) == [
        "study-1-ratings.csv", "study-1-ratings.jsonl", "study-1-summary.csv", "study-1-summary.jsonl"]
    assert main(["--db", db_url, "results", "--study", "1", "--resamples", "50", "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "study-1-summary.csv").is_file()


def test_a_system_without_its_knowledge_base_is_refused_before_any_model_loads(db_url, tmp_path, capsys,
                                                                              monkeypatch):
    import engine.loading

    monkeypatch.setattr(engine.loading, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    premises = tmp_path / "premises.txt"
    premises.write_text("Ann drove home.\n")
    code = main(["--db", db_url, "create", "--name", "gen", "--kind", "pairwise", "--premises", str(premises),
                 "--systems", "full,plain", "--model", "tiny", "--limit", "1"])
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]  # one line
    assert code == 2
    assert "system 'full' writes with knowledge, but no knowledge base at" in err
    assert "it does not exist; run: python -m engine kb build-wordnet" in err
    with make_sessionmaker(make_engine(db_url)).begin() as session:
        assert session.scalar(select(func.count()).select_from(Study)) == 0  # nothing written


def test_each_item_keeps_what_wrote_it_and_the_results_csv_shows_it_per_system(db_url, tmp_path, capsys,
                                                                               monkeypatch):
    from engine.knowledge.import_conceptnet import import_cn100k

    rows = ["IsA\tdog\tanimal\t3.0", "CapableOf\tdog\tbark\t2.8", "AtLocation\tdog\tkennel\t1.5"]
    (tmp_path / "cn.txt").write_text("".join(r + "\n" for r in rows))
    kb = tmp_path / "kb.db"
    import_cn100k(path=tmp_path / "cn.txt", kb=kb)
    premises = tmp_path / "premises.txt"
    premises.write_text("The dog barked at the kennel.\n")
    assert main(["--db", db_url, "create", "--name", "kb", "--kind", "pairwise", "--premises", str(premises),
                 "--systems", "full,plain", "--model", "tiny", "--predictor", "rake", "--limit", "1",
                 "--sentences", "1", "--kb", str(kb)]) == 0
    out = capsys.readouterr().out
    assert f"full: model tiny-random, adapter none, backend torch, knowledge base {kb} (3 edges" in out
    with make_sessionmaker(make_engine(db_url)).begin() as session:
        (item,) = session.scalars(select(StudyItem)).all()
        made = {item.hidden["systems"][side]: item.hidden["provenance"][side] for side in ("A", "B")}
    assert made["full"]["knowledge_base"] == str(kb) and made["full"]["knowledge_edges"] == 3
    assert made["full"]["keywords"] == "rake" and made["plain"]["keywords"] == "none"
    assert made["plain"]["knowledge_base"] == "none" and made["plain"]["backend"] == "torch"
    assert main(["--db", db_url, "results", "--study", "1", "--resamples", "20", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "study-1-summary.csv", newline="", encoding="utf-8") as handle:
        systems = {r["system"]: r for r in csv.DictReader(handle) if r["table"] == "systems"}
    assert systems["full"]["knowledge_base"] == str(kb) and systems["full"]["knowledge_edges"] == "3"
    assert systems["full"]["model"] == systems["plain"]["model"] == "tiny-random"
    assert systems["plain"]["knowledge_base"] == "none"


def test_bad_input_gives_a_clear_message_and_exit_code(db_url, capsys):
    code = main(
        [
            "--db",
            db_url,
            "create",
            "--name",
            "x",
            "--kind",
            "likert",
            "--premises",
            "/nonexistent.txt",
            "--model",
            "tiny",
        ]
    )
    assert code == 2 and "no premise file" in capsys.readouterr().err
    assert main(["--db", db_url, "results", "--study", "99"]) == 2

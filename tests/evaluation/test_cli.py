"""The command line: generate a study with the tiny model, invite, and export results."""

from __future__ import annotations

import json

from app.evaluation.cli import main
from storage import create_user, make_engine, make_sessionmaker


def test_create_generated_study_invite_and_results(db_url, tmp_path, capsys):
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
    assert main(["--db", db_url, "invite", "--study", "1", "--count", "2"]) == 0
    assert capsys.readouterr().out.count("?invite=") == 2
    summary = tmp_path / "summary.jsonl"
    assert (
        main(
            [
                "--db",
                db_url,
                "results",
                "--study",
                "1",
                "--jsonl",
                str(summary),
                "--raw-csv",
                str(tmp_path / "raw.csv"),
                "--resamples",
                "50",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in summary.read_text().splitlines()]
    assert {r["table"] for r in rows} == {"agreement"}  # no ratings yet: only empty agreement rows


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

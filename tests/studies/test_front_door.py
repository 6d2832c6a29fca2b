"""One front door: `python -m app users|pairs|studies|serve`, one way to name the database, and the
old `python -m app.evaluation` passing its arguments on with a one-line notice."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from app.cli import build_parser, main
from app.studies.cli import OLD_DOOR_NOTICE, old_door_arguments
from storage import list_users, make_engine, make_sessionmaker
from tests.studies.helpers import make_study

ROOT = Path(__file__).resolve().parents[2]


def _add(monkeypatch, *argv: str, password: str = "a-long-password") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(list(argv))


def test_users_add_and_list_through_the_front_door(db_url, monkeypatch, capsys):
    assert _add(monkeypatch, "--database-url", db_url, "users", "add", "ann", "--role", "rater",
                "--password-stdin") == 0
    assert _add(monkeypatch, "users", "add", "bo", "--password-stdin", "--database-url", db_url) == 0
    assert main(["users", "list", "--database-url", db_url]) == 0
    out = capsys.readouterr().out
    assert "created rater ann" in out and "created writer bo" in out
    assert [line.split()[:2] for line in out.splitlines()[-2:]] == [["ann", "rater"], ["bo", "writer"]]
    assert main(["--database-url", db_url, "users", "disable", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_data_dir_names_the_database_without_the_environment(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.delenv("CNTRL_DATABASE_URL", raising=False)
    before = dict(os.environ)
    assert _add(monkeypatch, "--data-dir", str(folder), "users", "add", "cy", "--password-stdin") == 0
    assert dict(os.environ) == before
    factory = make_sessionmaker(make_engine(f"sqlite:///{folder / 'stories.db'}"))
    with factory.begin() as session:
        assert [u.name for u in list_users(session)] == ["cy"]


def test_studies_commands_run_on_the_database_the_front_door_names(db_url, factory, people, tmp_path, capsys):
    study = make_study(factory, people)
    assert main(["--database-url", db_url, "studies", "status", "--study", str(study)]) == 0
    assert main(["studies", "close", "--study", str(study), "--database-url", db_url]) == 0
    assert "is closed" in capsys.readouterr().out
    folder = tmp_path / "exports-home"
    folder.mkdir()
    assert main(["--data-dir", str(folder), "--database-url", db_url, "studies", "results", "--study", str(study),
                 "--resamples", "20"]) == 0
    assert [p.name.startswith(f"study-{study}") for p in folder.iterdir()] == [True]  # exports in --data-dir
    assert main(["--database-url", db_url, "studies", "results", "--study", "99"]) == 2


def test_serve_is_the_default_and_a_command():
    parser = build_parser()
    default = parser.parse_args(["--port", "8001", "--fake-engine"])
    named = parser.parse_args(["--port", "8001", "serve", "--host", "0.0.0.0", "--data-dir", "d"])
    assert (default.command, default.port, default.fake_engine) == (None, 8001, True)
    assert (named.command, named.port, named.host, named.data_dir) == ("serve", 8001, "0.0.0.0", "d")


def test_old_door_arguments_become_front_door_arguments():
    assert old_door_arguments(["--db", "sqlite://", "create", "--k", "1"]) == [
        "--database-url", "sqlite://", "studies", "create", "--k", "1"]
    assert old_door_arguments(["--db=sqlite://", "users", "list"]) == ["--database-url", "sqlite://", "users", "list"]
    assert old_door_arguments(["serve", "--port", "7861"]) == ["studies", "serve", "--port", "7861"]


def test_the_old_door_still_works_and_says_so_in_one_line(db_url):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "app.evaluation", "--db", db_url, "users", "list"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == OLD_DOOR_NOTICE and "\n" not in OLD_DOOR_NOTICE
    assert done.stdout.splitlines()[0].split() == ["name", "role", "login"]

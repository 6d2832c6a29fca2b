"""Accounts and running studies from the command line: users add/list/disable/enable, status,
close and reopen, more raters than the study needs, and a study whose story was deleted."""

from __future__ import annotations

import io

import pytest

from app.studies.cli import main
from app.studies.service import EvalService
from storage import (
    PermissionDenied,
    Provenance,
    append_node,
    create_story,
    create_user,
    delete_story,
    make_engine,
    make_sessionmaker,
)
from tests.studies.helpers import make_study


def _add(db_url, monkeypatch, name, role, password) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["--db", db_url, "users", "add", name, "--role", role, "--password-stdin"])


def test_users_add_list_disable_and_enable(db_url, monkeypatch, capsys):
    service = EvalService(factory=make_sessionmaker(make_engine(db_url)), secret=b"s")
    assert _add(db_url, monkeypatch, "ada", "admin", "first-pass") == 0
    assert _add(db_url, monkeypatch, "rui", "rater", "rater-pass") == 0
    assert "created admin ada" in capsys.readouterr().out
    assert _add(db_url, monkeypatch, "ada", "admin", "second-pass") == 0  # a new password
    assert "updated admin ada" in capsys.readouterr().out
    with pytest.raises(PermissionDenied):
        service.login(name="ada", password="first-pass")
    assert service.identify(service.login(name="ada", password="second-pass")).role == "admin"

    assert main(["--db", db_url, "users", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split() == ["ada", "admin", "password"] and listing[2].split() == ["rui", "rater", "password"]
    assert main(["--db", db_url, "users", "disable", "rui"]) == 0
    assert capsys.readouterr().out.strip() == "rui disabled"
    with pytest.raises(PermissionDenied, match="disabled"):
        service.login(name="rui", password="rater-pass")
    with pytest.raises(PermissionDenied, match="wrong name or password"):  # no hint without the password
        service.login(name="rui", password="guess")
    assert main(["--db", db_url, "users", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["rui", "rater", "disabled"]
    assert main(["--db", db_url, "users", "enable", "rui"]) == 0
    assert service.login(name="rui", password="rater-pass")

    assert main(["--db", db_url, "users", "disable", "nobody"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["--db", db_url, "users", "add", "eve", "--password-stdin"]) == 2
    assert "password must be a non-empty string" in capsys.readouterr().err


def test_status_close_and_reopen(factory, people, db_url, capsys):
    study = make_study(factory, people, kind="likert", k=2, raters=("r1", "r2"))
    assert main(["--db", db_url, "status", "--study", str(study)]) == 0
    out = capsys.readouterr().out
    assert "0 of 6 have 2 answers; 6 have fewer" in out and "r1" in out and "r2" in out
    assert "waiting for answers: #1 (0/2)" in out
    assert main(["--db", db_url, "close", "--study", str(study)]) == 0
    assert "is closed" in capsys.readouterr().out
    assert main(["--db", db_url, "status", "--study", str(study)]) == 0
    assert ", closed)" in capsys.readouterr().out
    assert main(["--db", db_url, "reopen", "--study", str(study)]) == 0
    assert main(["--db", db_url, "status", "--study", str(study)]) == 0
    assert ", open)" in capsys.readouterr().out
    assert main(["--db", db_url, "status", "--study", "42"]) == 2
    assert "no study 42" in capsys.readouterr().err


def test_more_named_raters_than_items_times_k_says_who_got_nothing(db_url, tmp_path, capsys):
    premises = tmp_path / "premises.txt"
    premises.write_text("Ann drove home.\n")
    factory = make_sessionmaker(make_engine(db_url))
    with factory.begin() as session:
        for name in ("r1", "r2", "r3", "r4"):
            create_user(session, name=name, password="pw", role="rater")
    code = main(["--db", db_url, "create", "--name", "tiny", "--kind", "likert", "--k", "1",
                 "--premises", str(premises), "--limit", "1", "--systems", "plain,no_knowledge",
                 "--model", "tiny", "--predictor", "rake", "--sentences", "1", "--raters", "r1,r2,r3,r4",
                 "--attention-rate", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "study 1: 2 stories, 2 assignments" in out  # 2 items x k=1
    assert "got no items: every item already has 1 raters" in out
    assert sum(n in out.split("note:")[1] for n in ("r1", "r2", "r3", "r4")) == 2


def test_a_study_keeps_working_when_one_of_its_stories_is_deleted(db_url, tmp_path, capsys):
    factory = make_sessionmaker(make_engine(db_url))
    with factory.begin() as session:
        writer = create_user(session, name="wil", password="pw", role="writer").id
        create_user(session, name="ada", password="pw", role="admin")
        ids = []
        for premise in ("Ann drove home.", "Bob lost his keys."):
            story = create_story(session, user_id=writer, title=premise, premise=premise)
            append_node(session, user_id=writer, story_id=story.id, text="It rained all day.",
                        provenance=Provenance(source="generated", keywords=["rain"], model="m"))
            ids.append(story.id)
    assert main(["--db", db_url, "create", "--name", "saved", "--kind", "likert", "--k", "1",
                 "--stories", ",".join(map(str, ids)), "--owner", "wil", "--attention-rate", "0"]) == 0
    with factory.begin() as session:
        delete_story(session, user_id=writer, story_id=ids[0])
    assert main(["--db", db_url, "invite", "--study", "1"]) == 0
    token_link = next(line for line in capsys.readouterr().out.splitlines() if "?invite=" in line)
    service = EvalService(factory=factory, secret=b"s")
    token, study = service.redeem(invite=token_link.split("invite=")[1].split()[0])
    seen = []
    while (item := service.current_item(token, study_id=study)) is not None:
        seen.append(item.payload["premise"])
        service.submit(token, item_id=item.item_id, answers={c: 4 for c in item.criteria}, time_spent_ms=2000)
    assert sorted(seen) == ["Ann drove home.", "Bob lost his keys."]  # the study holds its own copy
    assert main(["--db", db_url, "results", "--study", "1", "--resamples", "50", "--out", str(tmp_path)]) == 0
    assert main(["--db", db_url, "create", "--name", "gone", "--kind", "likert", "--stories", "99",
                 "--owner", "wil"]) == 2
    assert "no story 99" in capsys.readouterr().err

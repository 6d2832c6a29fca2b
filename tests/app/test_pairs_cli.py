"""`python -m app pairs`: every writer's preference pairs (or one writer's) as JSON Lines, from the
database the editor would serve."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.store import Store
from storage import Provenance, add_sibling, append_node, create_story, create_user, rate_node


def _rated_story(session, *, user: int, premise: str, up: str, down: str, extra_up: str | None = None) -> int:
    """A story whose first sentence has versions rated up and down (and one more up, if given)."""
    story = create_story(session, user_id=user, title="T", premise=premise)
    typed = Provenance(source="typed")
    rejected = append_node(session, user_id=user, story_id=story.id, text=down, provenance=typed)
    chosen = add_sibling(session, user_id=user, story_id=story.id, node_id=rejected.id, text=up, provenance=typed)
    rate_node(session, user_id=user, story_id=story.id, node_id=rejected.id, rating="down", reason="flat")
    rate_node(session, user_id=user, story_id=story.id, node_id=chosen.id, rating="up")
    if extra_up:
        other = add_sibling(session, user_id=user, story_id=story.id, node_id=rejected.id, text=extra_up,
                            provenance=typed)
        rate_node(session, user_id=user, story_id=story.id, node_id=other.id, rating="up")
    return story.id


@pytest.fixture
def database(tmp_path) -> tuple[str, dict[str, int]]:
    """Ann: two rated stories (3 pairs); Bob: one (1 pair); Cy: nothing rated. (URL, story ids)."""
    url = f"sqlite:///{tmp_path / 'pairs.db'}"
    store = Store.open(url)

    def fill(session) -> dict[str, int]:
        ann, bob = (create_user(session, name=n).id for n in ("ann", "bob"))
        create_user(session, name="cy")
        return {
            "ann-1": _rated_story(session, user=ann, premise="Ann drove home.", up="The road shone.",
                                  down="She drove.", extra_up="Rain hit the glass."),
            "ann-2": _rated_story(session, user=ann, premise="雨が降った。", up="傘を開いた。", down="濡れた。"),
            "bob-1": _rated_story(session, user=bob, premise="Bob lost his keys.", up='He said "<no>" & left.',
                                  down="He looked."),
        }

    return url, store.run(fill)


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_pair_is_written_and_counted(database, tmp_path, capsys):
    url, stories = database
    out = tmp_path / "pairs.jsonl"
    assert main(["--database-url", url, "pairs", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 4 preference pairs from 3 stories to {out}"
    pairs = _lines(out)
    assert sorted((p["prompt"], p["chosen"], p["rejected"]) for p in pairs) == sorted([
        ("Ann drove home.", "The road shone.", "She drove."),
        ("Ann drove home.", "Rain hit the glass.", "She drove."),
        ("雨が降った。", "傘を開いた。", "濡れた。"),
        ("Bob lost his keys.", 'He said "<no>" & left.', "He looked."),
    ])
    assert {p["meta"]["writer"] for p in pairs} == {"ann", "bob"}
    assert {p["meta"]["story"] for p in pairs} == set(stories.values())
    assert all(p["meta"]["rejected"]["reason"] == "flat" for p in pairs)
    assert "雨が降った。" in out.read_text(encoding="utf-8")  # UTF-8 as written


def test_one_writers_pairs_with_the_flags_after_the_command(database, tmp_path, capsys):
    url, stories = database
    out = tmp_path / "bob.jsonl"
    assert main(["pairs", "--out", str(out), "--user", "bob", "--database-url", url]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 1 preference pair of bob from 1 story to {out}"
    (pair,) = _lines(out)
    assert pair["chosen"] == 'He said "<no>" & left.' and pair["meta"]["story"] == stories["bob-1"]


def test_a_writer_without_pairs_gets_an_empty_file_and_says_so(database, tmp_path, capsys):
    url, _ = database
    out = tmp_path / "cy.jsonl"
    assert main(["--database-url", url, "pairs", "--out", str(out), "--user", "cy"]) == 0
    assert "no preference pairs of cy yet" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == ""


def test_an_unknown_user_or_unwritable_file_is_one_error_line(database, tmp_path, capsys):
    url, _ = database
    out = tmp_path / "x.jsonl"
    assert main(["--database-url", url, "pairs", "--out", str(out), "--user", "nobody"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: no user named 'nobody'" and not out.exists()
    assert main(["--database-url", url, "pairs", "--out", str(tmp_path / "missing" / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_data_directory_resolves_the_database_as_when_serving(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "data"
    monkeypatch.delenv("CNTRL_DATABASE_URL", raising=False)
    monkeypatch.setenv("CNTRL_DATA_DIR", str(tmp_path / "elsewhere"))  # restored after the test
    folder.mkdir()
    store = Store.open(f"sqlite:///{folder / 'stories.db'}")
    store.run(lambda s: _rated_story(s, user=create_user(s, name="dee").id, premise="Dee sang.", up="Loudly.",
                                     down="Softly."))
    out = tmp_path / "dee.jsonl"
    assert main(["--data-dir", str(folder), "pairs", "--out", str(out)]) == 0
    assert "wrote 1 preference pair from 1 story" in capsys.readouterr().out
    assert _lines(out)[0]["chosen"] == "Loudly."

"""`python -m engine bible-check`: the whole command on a tiny random model, and the scoring on hand-made sentences."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from engine.cli import main
from engine.evaluation.bible_check import (
    CONDITIONS,
    load_cases,
    mentions,
    paired,
    rescore,
    score_sentence,
    summarize,
)


def _case(case_id: str):
    return next(c for c in load_cases() if c.id == case_id)


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The command run on the first two shipped cases, two seeds, a tiny random model, no knowledge store."""
    folder = tmp_path_factory.mktemp("bible-check")
    out = folder / "report.json"
    code = main(["bible-check", "--model", "tiny-random", "--adapter", "none", "--data-dir", str(folder),
                 "--ranker", "null", "--limit", "2", "--seeds", "2", "--max-tokens", "6", "--out", str(out)])
    assert code == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_report_has_both_conditions_per_case_rows_and_every_sentence(report):
    cases = load_cases(limit=2)
    sentences = 2 * sum(len(c.plans) for c in cases)
    assert set(report["conditions"]) == set(CONDITIONS)
    for metrics in report["conditions"].values():
        assert metrics["sentences"] == sentences
        assert set(metrics) >= {"consistent", "uses_entry", "drawn", "mentions", "seconds_per_sentence"}
        assert 0.0 <= metrics["consistent"] <= 1.0 and metrics["seconds_per_sentence"] > 0
    assert [row["case"] for row in report["cases"]] == [c.id for c in cases]
    assert report["paired"]["pairs"] == sentences
    assert len(report["stories"]) == 2 * 2 * len(CONDITIONS)
    assert report["run"]["model"] == "tiny-random" and report["run"]["seeds"] == 2
    row = report["stories"][0]["sentences"][0]
    assert set(row) >= {"sentence", "keywords", "seed", "bible_facts", "contradicts", "supports", "seconds"}


def test_only_the_run_with_the_bible_draws_entries_into_the_prompt(report):
    assert report["conditions"]["with_bible"]["drawn"] == 1.0  # every plan names a key of its case
    assert report["conditions"]["without_bible"]["drawn"] == 0.0
    for story in report["stories"]:
        drawn = [name for row in story["sentences"] for name in row["bible_facts"]]
        assert bool(drawn) == (story["condition"] == "with_bible")
    mara = next(s for s in report["stories"] if s["case"] == "mara-newspaper" and s["condition"] == "with_bible")
    assert "Mara" in mara["sentences"][0]["bible_facts"]
    assert "Biscuit" in mara["sentences"][2]["bible_facts"]  # drawn by the keyword "Biscuit" alone


def test_every_triggered_entry_reaches_the_prompt_when_nothing_competes(report):
    # No knowledge store here, so the ranker has only the bible's entries to choose from.
    assert report["conditions"]["with_bible"]["triggered_in_prompt"] == 1.0
    assert report["conditions"]["without_bible"]["triggered_in_prompt"] is None


def test_rescoring_reads_the_stored_sentences_with_edited_checks(report):
    cases = load_cases(limit=2)
    everything = re.compile(".")
    edited = [replace(c, checks=tuple(replace(ch, contradicts=(everything,)) for ch in c.checks)) for c in cases]
    again = rescore(report, edited)
    assert again["conditions"]["with_bible"]["consistent"] == 0.0
    assert again["conditions"]["without_bible"]["consistent"] == 0.0
    assert again["conditions"]["with_bible"]["drawn"] == report["conditions"]["with_bible"]["drawn"]
    sentences = lambda r: [row["sentence"] for s in r["stories"] for row in s["sentences"]]  # noqa: E731
    assert sentences(again) == sentences(report)
    assert rescore(report, cases)["conditions"] == report["conditions"]
    with pytest.raises(ValueError, match="ken-doorbell"):
        rescore(report, cases[:1])


def test_the_two_conditions_are_paired_by_seed_and_keywords(report):
    by_key = {(s["case"], s["seed"], s["condition"]): s["sentences"] for s in report["stories"]}
    for (case, seed, condition), rows in by_key.items():
        other = by_key[(case, seed, "without_bible" if condition == "with_bible" else "with_bible")]
        assert [(r["seed"], r["keywords"]) for r in rows] == [(r["seed"], r["keywords"]) for r in other]
        assert [r["seed"] for r in rows] == [seed + i for i in range(len(rows))]


def test_the_table_prints_both_conditions_and_each_case(tmp_path, capsys):
    code = main(["bible-check", "--model", "tiny-random", "--adapter", "none", "--data-dir", str(tmp_path),
                 "--ranker", "null", "--limit", "1", "--seeds", "1", "--max-tokens", "4"])
    printed = capsys.readouterr().out
    assert code == 0
    assert re.search(r"^with_bible\s+4\s", printed, re.M) and re.search(r"^without_bible\s+4\s", printed, re.M)
    assert "mara-newspaper" in printed and "paired sentences: 4" in printed


def test_bad_flags_and_bad_case_files_are_one_line_errors_before_loading(tmp_path, capsys):
    bad = tmp_path / "cases.json"
    bad.write_text(json.dumps({"cases": [{"id": "x", "premise": "P.", "plans": [["a"]], "entries": [
        {"name": "A", "keys": ["a"], "text": "A is.", "contradicts": ["(unclosed"], "supports": []}]}]}))
    assert main(["bible-check", "--cases", str(bad)]) == 2
    assert "bad regular expression '(unclosed'" in capsys.readouterr().err
    assert main(["bible-check", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err


# --------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("case_id, sentence, contradicted, supported", [
    ("mara-newspaper", "Mara looked at the headline for a long time.", ["Mara"], []),
    ("mara-newspaper", "Mara quickly read the headline.", ["Mara"], []),
    ("mara-newspaper", "Mara felt the dots on the page with her fingertips.", [], ["Mara"]),
    ("mara-newspaper", "Her grandson read it aloud to Mara.", [], ["Mara"]),
    ("mara-newspaper", "Biscuit meowed at the door.", ["Biscuit"], []),
    ("ken-doorbell", "The doorbell rang while Ken was cooking.", ["doorbell"], []),
    ("ken-doorbell", "The lamps flashed, so Ken knew his sister was at the door.", [], ["doorbell"]),
    ("ken-doorbell", "Ken heard a knock.", ["Ken"], []),
    ("priya-barbecue", "Priya ate a juicy burger from the grill.", ["Priya"], []),
    ("priya-barbecue", "Priya ate a veggie burger instead.", [], ["Priya"]),
    ("tom-lake", "Tom could not swim, so he stayed on the shore.", [], ["Tom"]),
    ("tom-lake", "Tom quickly swam to the boat.", ["Tom"], []),
    ("nadia-cafe", "Rosa ordered a large coffee at the cafe.", ["Kettle Cafe"], []),
    ("nadia-cafe", "The cafe had no coffee, so Rosa drank tea.", [], ["Kettle Cafe"]),
    ("nadia-cafe", "Nadia rolled her wheelchair up the ramp.", [], ["Nadia"]),
    ("sam-park", "\"Look, ducks,\" Sam said.", ["Sam"], ["Maple Park"]),
    ("sam-park", "Aunt Lucy pushed the stroller to the pond.", [], ["Sam", "Maple Park"]),
])
def test_patterns_score_hand_made_sentences(case_id, sentence, contradicted, supported):
    verdict = score_sentence(sentence, _case(case_id).checks)
    assert [name for name, _ in verdict.contradicts] == contradicted
    assert [name for name, _ in verdict.supports] == supported
    assert verdict.consistent == (not contradicted) and verdict.uses_entry == bool(supported)


def test_a_forced_keyword_alone_never_counts_as_use_or_contradiction():
    for case in load_cases():
        for keyword in {k for plan in case.plans for k in plan}:
            verdict = score_sentence(keyword, case.checks)
            assert not verdict.contradicts and not verdict.supports, (case.id, keyword)


def test_mentions_follow_the_bible_key_rules():
    entries = _case("mara-newspaper").bible
    assert mentions("Mara and Biscuit went out.", entries) == ["Mara", "Biscuit"]
    assert mentions("The MARAthon began.", entries) == []


def test_summaries_and_pairs_on_hand_made_rows():
    def row(consistent, uses, drawn):
        return {"consistent": consistent, "uses_entry": uses, "bible_facts": ["A"] if drawn else [],
                "triggered": ["A", "B"] if drawn else [],
                "mentions": ["A"], "contradicts": [] if consistent else [{"entry": "A", "match": "x"}], "seconds": 1.0}

    with_rows, without_rows = [row(True, True, True), row(True, False, True)], [row(False, False, False), row(True, True, False)]
    stories = [{"case": "c", "seed": 0, "condition": "with_bible", "sentences": with_rows},
               {"case": "c", "seed": 0, "condition": "without_bible", "sentences": without_rows}]
    assert summarize(with_rows) == {
        "sentences": 2, "consistent": 1.0, "uses_entry": 0.5, "drawn": 1.0, "triggered_in_prompt": 0.5,
        "mentions": 1.0, "contradictions": 0, "seconds_per_sentence": 1.0}
    assert summarize(without_rows)["triggered_in_prompt"] is None
    assert summarize(without_rows)["contradictions"] == 1
    assert paired(stories) == {"pairs": 2, "only_with_consistent": 1, "only_without_consistent": 0,
                               "only_with_uses": 1, "only_without_uses": 1}

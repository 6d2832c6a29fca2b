"""Results as people read them: only the tables a study's kind has, rounded numbers, raters by
name, a Bradley-Terry score at the optimiser's bound shown as a bound, alpha's absence explained."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.studies.report import NOT_ESTIMABLE, format_report, report_tables
from app.studies.results import QualityRules, provenance_table, summarise
from storage import RatingRecord

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _record(n: int, rater: int, item: int, value, *, hidden=None, check=False, expected=None) -> RatingRecord:
    return RatingRecord(n, rater, item, "coherence", value, 5000, 1, hidden or {}, check, expected, NOW)


def _pairwise(outcomes: list[tuple[int, int, str]]) -> list[RatingRecord]:
    """(rater, item, answer) with "full" always on side A."""
    hidden = {"systems": {"A": "full", "B": "plain"}}
    return [_record(n, r, i, v, hidden=hidden) for n, (r, i, v) in enumerate(outcomes)]


def _tables(results) -> dict[str, list[dict[str, str]]]:
    return {t.name: t.rows for t in report_tables(results)}


def test_a_system_that_always_wins_is_shown_at_the_bound_not_as_an_estimate():
    records = _pairwise([(1, item, "A") for item in range(6)])
    results = summarise(study_id=1, kind="pairwise", criteria=["coherence"], records=records, n_resamples=200,
                        names={1: "ann"})
    raw = {r["system"]: r for r in results.bradley_terry}
    assert raw["full"]["bound"] == "above" and raw["plain"]["bound"] == "below"  # the export says so too
    rows = {r["System"]: r for r in _tables(results)["bradley_terry"]}
    assert rows["full"]["Score"] == f"> 4.9, {NOT_ESTIMABLE}"
    assert rows["plain"]["Score"] == f"< -4.9, {NOT_ESTIMABLE}"
    assert NOT_ESTIMABLE in rows["full"]["95% interval"] and "5.0" not in rows["full"]["95% interval"]
    (win,) = [r for r in _tables(results)["win_rates"] if r["System"] == "full"]
    assert win["Win rate"] == "100% (6 won, 0 lost, 0 tied of 6)"


def test_estimable_scores_and_intervals_have_two_decimals_and_a_bound_end_reads_as_one():
    answers = ["A", "A", "B", "A", "A", "both_bad", "A", "A", "A", "A"]
    records = _pairwise([(1 + n % 2, n, v) for n, v in enumerate(answers)])
    results = summarise(study_id=1, kind="pairwise", criteria=["coherence"], records=records, n_resamples=300)
    rows = {r["System"]: r for r in _tables(results)["bradley_terry"]}
    assert re.fullmatch(r"-?\d+\.\d\d", rows["full"]["Score"])
    low, high = re.fullmatch(r"\[(.+), (.+)\]", rows["full"]["95% interval"]).groups()
    assert re.fullmatch(r"-?\d+\.\d\d", low)
    # Some resamples have no loss for "full": the upper end is the optimiser's bound and says so.
    assert high == "> 4.9" and results.bradley_terry[0]["high_bound"] == "above"
    (win,) = [r for r in _tables(results)["win_rates"] if r["System"] == "full"]
    assert win["Win rate"] == "85% (8 won, 1 lost, 1 tied of 10)"
    assert "means" not in _tables(results)  # a pairwise study has no means table


def test_raters_by_name_checks_as_counts_and_alpha_missing_with_its_reason():
    check = {"attention_check": True}
    records = _pairwise([(1, 10, "A"), (2, 11, "B")]) + [
        _record(90, 1, 50, "A", hidden=check, check=True, expected="A"),
        _record(91, 2, 50, "tie", hidden=check, check=True, expected="A"),
    ]
    results = summarise(study_id=1, kind="pairwise", criteria=["coherence"], records=records, n_resamples=50,
                        names={1: "ann", 2: "bob"}, rules=QualityRules(exclude_flagged=True))
    quality = {r["Rater"]: r for r in _tables(results)["quality"]}
    assert quality["ann"]["Attention checks"] == "1 of 1 right (100%)" and quality["ann"]["Excluded"] == "no"
    assert quality["bob"]["Flagged"] == "attention checks 0% < 80%" and quality["bob"]["Excluded"] == "yes"
    (agreement,) = _tables(results)["agreement"]
    assert agreement["Alpha"] == "— (too few raters per item: alpha needs an item answered by 2 raters)"
    text = format_report(results)
    assert "excluded raters: bob" in text and "Bradley-Terry scores with 95% intervals" in text


def test_a_likert_study_shows_means_rounded_and_no_pairwise_tables():
    records = [_record(n, 1 + n % 3, n // 3, v, hidden={"system": "full"})
               for n, v in enumerate([4, 5, 4, 3, 4, 4, 5, 5, 4])]
    results = summarise(study_id=2, kind="likert", criteria=["coherence"], records=records, n_resamples=200)
    tables = _tables(results)
    assert set(tables) == {"systems", "quality", "means", "agreement"}
    (mean,) = tables["means"]
    assert mean["Mean"] == "4.22" and re.fullmatch(r"\[\d\.\d\d, \d\.\d\d\]", mean["95% interval"])
    assert re.fullmatch(r"-?\d\.\d\d", tables["agreement"][0]["Alpha"])


def test_the_systems_table_says_what_wrote_each_system_and_where_it_was_not_recorded():
    full = {"model": "m + cntrl", "adapter": "cntrl", "backend": "torch", "knowledge_base": "/kb.db",
            "knowledge_edges": 9, "facts_used": 4, "keywords": "predicted"}
    plain = {**full, "knowledge_base": "none", "knowledge_edges": 0, "facts_used": 0, "keywords": "none"}
    items = [{"systems": {"A": "full", "B": "plain"}, "provenance": {"A": full, "B": plain}},
             {"systems": {"A": "plain", "B": "full"}, "provenance": {"A": plain, "B": full}},
             {"systems": {"A": "old", "B": "full"}}]
    rows = {r["system"]: r for r in provenance_table(items)}
    assert rows["full"]["knowledge_base"] == "/kb.db" and rows["full"]["knowledge_edges"] == "9"
    assert rows["full"]["items"] == 3 and rows["full"]["facts_per_story"] == round(8 / 3, 1)
    assert rows["plain"]["keywords"] == "none" and rows["old"]["model"] == "not recorded"

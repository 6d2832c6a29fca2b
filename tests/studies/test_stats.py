"""Statistics against published worked examples and simulated raters with a known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.studies.stats import (
    Comparison,
    alpha,
    bradley_terry,
    bradley_terry_intervals,
    mean_interval,
    normalise_outcome,
    win_rates,
)

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Departmental Papers
# (ASC) 43, University of Pennsylvania. Example C: 4 observers, 12 units, missing values.
# Published results: nominal .743, ordinal .815, interval .849, ratio .797.
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
# Same paper, example A: binary data, 2 observers, 10 units, no missing values: alpha = 0.095.
KRIPPENDORFF_A = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]

# Agresti, A. (2002). Categorical Data Analysis, 2nd ed., Sec. 10.6, Table 10.10: 1987 American
# League East games (home team, away team, home wins, away wins), as shipped in R's BradleyTerry2.
BASEBALL = """Milwaukee,Detroit,4,3;Milwaukee,Toronto,4,2;Milwaukee,New York,4,3;Milwaukee,Boston,6,1
Milwaukee,Cleveland,4,2;Milwaukee,Baltimore,6,0;Detroit,Milwaukee,3,3;Detroit,Toronto,4,2
Detroit,New York,4,3;Detroit,Boston,6,0;Detroit,Cleveland,6,1;Detroit,Baltimore,4,3
Toronto,Milwaukee,2,5;Toronto,Detroit,4,3;Toronto,New York,2,4;Toronto,Boston,4,3
Toronto,Cleveland,4,2;Toronto,Baltimore,6,0;New York,Milwaukee,3,3;New York,Detroit,5,1
New York,Toronto,2,5;New York,Boston,4,3;New York,Cleveland,4,2;New York,Baltimore,6,1
Boston,Milwaukee,5,1;Boston,Detroit,2,5;Boston,Toronto,3,3;Boston,New York,4,2
Boston,Cleveland,5,2;Boston,Baltimore,6,0;Cleveland,Milwaukee,2,5;Cleveland,Detroit,3,3
Cleveland,Toronto,3,4;Cleveland,New York,4,3;Cleveland,Boston,4,2;Cleveland,Baltimore,2,4
Baltimore,Milwaukee,2,5;Baltimore,Detroit,1,5;Baltimore,Toronto,1,6;Baltimore,New York,2,4
Baltimore,Boston,1,6;Baltimore,Cleveland,3,4"""
# Agresti's Table 10.11 (model without home advantage), log-strengths with Baltimore = 0.
AGRESTI_ESTIMATES = {
    "Milwaukee": 1.58,
    "Detroit": 1.44,
    "Toronto": 1.29,
    "New York": 1.25,
    "Boston": 1.11,
    "Cleveland": 0.68,
    "Baltimore": 0.00,
}


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_matches_krippendorff_2011_example_c(level, expected):
    assert alpha(KRIPPENDORFF_C, level=level) == pytest.approx(expected, abs=5e-4)


def test_alpha_matches_krippendorff_2011_binary_example():
    assert alpha(KRIPPENDORFF_A, level="nominal") == pytest.approx(0.095, abs=5e-4)


def test_alpha_on_labels_and_undefined_cases():
    labels = [["A", "B", "tie", "A"], ["A", "B", "tie", "A"]]
    assert alpha(labels, level="nominal") == pytest.approx(1.0)
    assert math.isnan(alpha([["A", "A"], ["A", "A"]], level="nominal"))  # one value only
    assert math.isnan(alpha([[1, None], [None, 2]], level="ordinal"))  # no unit rated twice


def _baseball() -> list[Comparison]:
    games = []
    for row in BASEBALL.replace("\n", ";").split(";"):
        home, away, home_wins, away_wins = row.split(",")
        games += [Comparison(home, away, "a")] * int(home_wins)
        games += [Comparison(home, away, "b")] * int(away_wins)
    return games


def test_bradley_terry_matches_agresti_table_10_11():
    scores = bradley_terry(_baseball())
    relative = {team: scores[team] - scores["Baltimore"] for team in scores}
    for team, expected in AGRESTI_ESTIMATES.items():
        assert relative[team] == pytest.approx(expected, abs=0.005), team
    assert sum(scores.values()) == pytest.approx(0.0, abs=1e-9)


def test_bradley_terry_two_systems_is_the_log_odds():
    games = [Comparison("x", "y", "a")] * 3 + [Comparison("x", "y", "b")]
    scores = bradley_terry(games)
    assert scores["x"] - scores["y"] == pytest.approx(math.log(3), abs=1e-4)


def test_ties_count_as_half_and_a_clean_sweep_stays_finite():
    games = [Comparison("x", "y", "tie"), Comparison("x", "y", "both_bad")]
    assert bradley_terry(games)["x"] == pytest.approx(0.0, abs=1e-6)
    sweep = bradley_terry([Comparison("x", "y", "a")] * 5)
    assert math.isfinite(sweep["x"]) and sweep["x"] > 4


def _simulated_pairwise(rng, n: int, margin: float) -> list[Comparison]:
    """Raters judge A vs B (sides random) with a latent advantage for A plus noise."""
    truth = {"A": margin, "B": 0.0, "C": -margin / 2}
    systems = list(truth)
    games = []
    for _ in range(n):
        left, right = rng.choice(systems, size=2, replace=False)
        diff = truth[left] - truth[right] + rng.normal(0, 1.0)
        outcome = "tie" if abs(diff) < 0.2 else ("a" if diff > 0 else "b")
        games.append(Comparison(str(left), str(right), outcome))
    return games


def test_simulated_raters_bradley_terry_ranks_the_better_system_first():
    rng = np.random.default_rng(7)
    scores = bradley_terry_intervals(_simulated_pairwise(rng, 600, 1.0), n_resamples=300)
    assert [s.system for s in scores] == ["A", "B", "C"]
    best, second = scores[0], scores[1]
    assert best.low <= best.score <= best.high
    assert best.low > second.high  # the interval excludes a tie with the runner-up


def test_simulated_raters_alpha_high_for_consistent_near_zero_for_random():
    rng = np.random.default_rng(3)
    quality = rng.integers(1, 6, size=80)
    consistent = [np.clip(quality + rng.choice([-1, 0, 0, 0, 1], 80), 1, 5) for _ in range(3)]
    random_raters = [rng.integers(1, 6, size=80) for _ in range(3)]
    domain = [1, 2, 3, 4, 5]
    as_lists = lambda rows: [[int(v) for v in row] for row in rows]  # noqa: E731
    assert alpha(as_lists(consistent), level="ordinal", domain=domain) > 0.8
    assert abs(alpha(as_lists(random_raters), level="ordinal", domain=domain)) < 0.15


def test_mean_interval_covers_the_truth_and_handles_edge_cases():
    rng = np.random.default_rng(1)
    interval = mean_interval(rng.normal(3.0, 1.0, size=400))
    assert interval.low < 3.0 < interval.high and interval.high - interval.low < 0.3
    assert (mean_interval([4, 4, 4]).low, mean_interval([4, 4, 4]).high) == (4, 4)
    assert mean_interval([]).n == 0 and math.isnan(mean_interval([]).estimate)
    assert math.isnan(mean_interval([5]).low)


def test_win_rates_count_ties_as_half_and_refuse_unknown_outcomes():
    games = [Comparison("x", "y", "A"), Comparison("y", "x", "b"), Comparison("x", "y", "tie")]
    rates = {(r.system, r.opponent): r for r in win_rates(games)}
    assert rates["x", "y"].wins == 2 and rates["x", "y"].ties == 1
    assert rates["x", "y"].rate == pytest.approx(2.5 / 3)
    assert rates["y", "x"].rate == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match="pairwise outcome"):
        normalise_outcome("maybe")

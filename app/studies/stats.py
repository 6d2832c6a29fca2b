"""Statistics for human evaluation: bootstrap intervals, win rates, Bradley-Terry, alpha.

Library code does the standard parts: `scipy.stats.bootstrap` for intervals of a
mean, `scipy.optimize.minimize` for the Bradley-Terry likelihood and the
`krippendorff` package for agreement. Only the bookkeeping around them lives here.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np
from scipy import optimize, stats

from storage import PAIRWISE_OUTCOMES

BT_BOUND = 10.0  # log-strengths are kept in [-10, 10] so a system that always wins stays finite


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and the sample size behind it."""

    estimate: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """One pairwise judgement between two systems: "a", "b" or "tie" (both_bad counts as tie)."""

    a: str
    b: str
    outcome: str


@dataclass(frozen=True)
class WinRate:
    """How often `system` beat `opponent`, ties counted as half."""

    system: str
    opponent: str
    wins: int
    losses: int
    ties: int
    rate: float


@dataclass(frozen=True)
class BTScore:
    """A Bradley-Terry log-strength (mean zero over systems) with a bootstrap interval.

    A system that won (or lost) every comparison has no finite estimate: the fit stops at the
    optimiser's bound, and `bound` says so ("above": the true score is higher, "below": lower);
    `low_bound` / `high_bound` say the same of the interval's ends.
    """

    system: str
    score: float
    low: float
    high: float
    bound: str = ""
    low_bound: str = ""
    high_bound: str = ""


def mean_interval(
    values: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> Interval:
    """Mean with a percentile bootstrap interval (`scipy.stats.bootstrap`).

    Args:
        values: The observations.
        confidence: Coverage of the interval.
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        The mean and its interval; NaN bounds for fewer than two observations, and a
        zero-width interval when every observation is equal.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if data.size < 2:
        return Interval(mean, math.nan, math.nan, 1)
    if np.all(data == data[0]):
        return Interval(mean, mean, mean, int(data.size))
    result = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Interval(mean, float(ci.low), float(ci.high), int(data.size))


def normalise_outcome(outcome: str) -> str:
    """Map a pairwise answer to "a", "b" or "tie" (both_bad is a tie: neither is better)."""
    value = str(outcome).lower()
    for answer, result in PAIRWISE_OUTCOMES.items():
        if value == answer.lower():
            return result
    raise ValueError(f"a pairwise outcome is A, B, tie or both_bad, got {outcome!r}")


def win_rates(comparisons: Iterable[Comparison]) -> list[WinRate]:
    """Win rate of every system against every opponent it met, ties counted as half."""
    table: dict[tuple[str, str], list[int]] = {}
    for c in comparisons:
        outcome = normalise_outcome(c.outcome)
        for me, other, won, lost in ((c.a, c.b, "a", "b"), (c.b, c.a, "b", "a")):
            row = table.setdefault((me, other), [0, 0, 0])
            row[0 if outcome == won else 1 if outcome == lost else 2] += 1
    return [
        WinRate(me, other, w, lo, t, (w + 0.5 * t) / (w + lo + t))
        for (me, other), (w, lo, t) in sorted(table.items())
    ]


def _win_matrix(comparisons: Sequence[Comparison], systems: list[str]) -> np.ndarray:
    """(S, S) weighted wins of row over column; a tie is half a win each way."""
    index = {s: i for i, s in enumerate(systems)}
    wins = np.zeros((len(systems), len(systems)))
    for c in comparisons:
        i, j = index[c.a], index[c.b]
        outcome = normalise_outcome(c.outcome)
        if outcome == "a":
            wins[i, j] += 1
        elif outcome == "b":
            wins[j, i] += 1
        else:
            wins[i, j] += 0.5
            wins[j, i] += 0.5
    return wins


def _fit_matrix(wins: np.ndarray) -> np.ndarray:
    """Maximum-likelihood log-strengths for a win matrix, centred at mean zero."""
    return _fit(wins)[0]


def _fit(wins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centred log-strengths, and per system +1 / -1 where the fit stopped at the bound (0 elsewhere)."""
    n = wins.shape[0]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        diff = theta[:, None] - theta[None, :]  # (S, S): theta_i - theta_j
        log_p = -np.logaddexp(0.0, -diff)  # log P(i beats j)
        nll = -float(np.sum(wins * log_p))
        # d nll / d theta_k = -sum_j W_kj P(j beats k) + sum_i W_ik P(k beats i)
        lost = wins * (1.0 - np.exp(log_p))
        return nll, lost.sum(axis=0) - lost.sum(axis=1)

    # Pin the last system at zero for identifiability, then centre the result.
    def pinned(free: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = loss(np.append(free, 0.0))
        return value, grad[:-1]

    fit = optimize.minimize(
        pinned,
        np.zeros(n - 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-BT_BOUND, BT_BOUND)] * (n - 1),
    )
    theta = np.append(fit.x, 0.0)
    theta = theta - theta.mean()
    side = np.zeros(n)
    # At the bound the likelihood still rises outwards: the top and bottom systems are not estimable.
    if np.any(np.abs(fit.x) >= BT_BOUND - 1e-3):
        side[np.isclose(theta, theta.min(), atol=1e-3)] = -1
        side[np.isclose(theta, theta.max(), atol=1e-3)] = 1
    return theta, side


def bradley_terry(
    comparisons: Sequence[Comparison], *, systems: Sequence[str] | None = None
) -> dict[str, float]:
    """Bradley-Terry log-strengths by maximum likelihood, centred at mean zero.

    Args:
        comparisons: Pairwise judgements; ties (and both_bad) count as half a win each.
        systems: Order and names of systems; by default those in `comparisons`, sorted.

    Returns:
        System name -> log-strength; P(i beats j) = 1 / (1 + exp(s_j - s_i)).
    """
    names = list(systems) if systems is not None else _systems(comparisons)
    if len(names) < 2:
        raise ValueError("Bradley-Terry needs comparisons between at least two systems")
    theta = _fit_matrix(_win_matrix(comparisons, names))
    return {s: float(t) for s, t in zip(names, theta, strict=True)}


def bradley_terry_intervals(
    comparisons: Sequence[Comparison],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[BTScore]:
    """Bradley-Terry scores with percentile intervals from resampling the comparisons.

    Args:
        comparisons: Pairwise judgements.
        confidence: Coverage of each interval.
        n_resamples: Bootstrap resamples of the comparisons (with replacement).
        seed: Seed of the resampling.

    Returns:
        One `BTScore` per system, best first.
    """
    names = _systems(comparisons)
    if len(names) < 2:
        raise ValueError("Bradley-Terry needs comparisons between at least two systems")
    point, point_side = _fit(_win_matrix(comparisons, names))
    rng = np.random.default_rng(seed)
    items = list(comparisons)
    draws = np.empty((n_resamples, len(names)))
    sides = np.empty((n_resamples, len(names)))
    for r in range(n_resamples):
        picks = rng.integers(0, len(items), size=len(items))
        draws[r], sides[r] = _fit(_win_matrix([items[i] for i in picks], names))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    # A percentile lands on the bound when enough resamples stopped there: the tail's share on its
    # own side, or all but the tail's share on the far side.
    above, below = np.mean(sides == 1, axis=0) * 100, np.mean(sides == -1, axis=0) * 100
    low_end = np.where(below >= tail, "below", np.where(above >= 100 - tail, "above", ""))
    high_end = np.where(above >= tail, "above", np.where(below >= 100 - tail, "below", ""))
    where = {1: "above", -1: "below", 0: ""}
    scores = [
        BTScore(s, float(point[i]), float(low[i]), float(high[i]), where[int(point_side[i])],
                str(low_end[i]), str(high_end[i]))
        for i, s in enumerate(names)
    ]
    return sorted(scores, key=lambda s: -s.score)


def _systems(comparisons: Iterable[Comparison]) -> list[str]:
    return sorted({c.a for c in comparisons} | {c.b for c in comparisons})


def alpha(
    table: Sequence[Sequence[Hashable | None]],
    *,
    level: str,
    domain: Sequence[Hashable] | None = None,
) -> float:
    """Krippendorff's alpha of a raters x units table (`None` or NaN marks a missing value).

    Args:
        table: One row per rater, one column per unit.
        level: "nominal", "ordinal", "interval" or "ratio".
        domain: Every possible value in order (needed for ordinal data whose extreme
            values may be unused, e.g. Likert 1-5); by default the values seen.

    Returns:
        Alpha, or NaN when it is undefined (fewer than two values, or no unit with two
        ratings).
    """
    values = domain or sorted({v for row in table for v in row if not _missing(v)}, key=str)
    if len(values) < 2:
        return math.nan
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    # Numbers keep their values (interval and ratio need them); labels are coded by position.
    code = {v: float(v) if numeric else float(i) for i, v in enumerate(values)}
    data = np.array([[math.nan if _missing(v) else code[v] for v in row] for row in table])
    if not np.any(np.sum(~np.isnan(data), axis=0) >= 2):
        return math.nan
    return float(
        krippendorff.alpha(
            reliability_data=data,
            value_domain=list(code.values()),
            level_of_measurement=level,
        )
    )


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))

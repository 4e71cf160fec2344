"""PHE's funnel plot limits for rates, checked against PHEindicatormethods.

References:
* PHE's published expected output, tests/testthat/testdata_funnel_rate_outputs_2.csv of
  PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods, commit 093fd28): crude rates per
  100,000, 3 years of data, baseline 114.8591735 per 100,000. Rows E = 1, 2, 1274 and 1344 are
  copied below (Events, lower_2s_population_1_year, lower_2s_limit, upper_2s_population_1_year,
  upper_2s_limit, lower_3s_population_1_year, lower_3s_limit, upper_3s_population_1_year,
  upper_3s_limit).
* An independent re-implementation, in this test, of PHE's own algorithm in R/utils.R: the
  Poisson series ``poisson_cis`` and the bisection ``poisson_funnel``, used on a worked example.
"""
import math

import numpy as np
import pytest
from scipy.stats import chi2, norm

from geo.rates import funnel

BASELINE = 114.8591735 / 1e5
PHE_ROWS = [  # testdata_funnel_rate_outputs_2.csv
    (1, 1616.949526, 20.61494982, 7.347518827, 4536.678859, 2679.632184, 12.4395182, 0.290369211, 114796.3768),
    (2, 2096.679871, 31.79630214, 70.2917202, 948.4284419, 3258.735028, 20.45783597, 13.17613227, 5059.653722),
    (1274, 390602.1071, 108.7210383, 349702.1185, 121.4366869, 402869.8748, 105.4103802, 338543.1027, 125.4394679),
    (1344, 411466.9163, 108.8787415, 369466.4508, 121.2559352, 424051.9679, 105.6474286, 357990.2328, 125.143079),
]


@pytest.mark.parametrize("row", PHE_ROWS)
def test_limits_match_phe_published_output(row):
    e, lp95, l95, up95, u95, lp998, l998, up998, u998 = row
    got = funnel.limits_at([e], BASELINE, 1e5, years_of_data=3).iloc[0]
    # PHE's bisection stops at a step of 1e-7 in v = mean / (1 + obs + mean), so its values are
    # within about 1e-4 of the exact limits computed here (the worst: E = 1 at 99.8%, where v is 2e-4)
    for column, expected in (("population_lower_95", lp95), ("lower_95", l95), ("population_upper_95", up95),
                             ("upper_95", u95), ("population_lower_998", lp998), ("lower_998", l998),
                             ("population_upper_998", up998), ("upper_998", u998)):
        assert got[column] == pytest.approx(expected, rel=1e-4), column


def _poisson_cis(z, x_a, x_b):
    """PHE's R/utils.R poisson_cis, line by line: P(x_a <= X <= x_b) for X ~ Poisson(z)."""
    q, tot, s, k = 1.0, 0.0, 0.0, 0
    while k <= z or q > tot * 1e-10:
        tot += q
        if x_a <= k <= x_b:
            s += q
        if tot > 1e30:
            s, tot, q = s / 1e30, tot / 1e30, q / 1e30
        k += 1
        q = q * z / k
    return s / tot


def _poisson_funnel(obs, p, side):
    """PHE's R/utils.R poisson_funnel (bisection), line by line."""
    v, dv = 0.5, 0.5
    while dv > 1e-7:
        dv /= 2
        if side == "low":
            v = v - dv if _poisson_cis((1 + obs) * v / (1 - v), obs, 1e10) > p else v + dv
        else:
            v = v - dv if _poisson_cis((1 + obs) * v / (1 - v), 0, obs) < p else v + dv
    return (1 + obs) * v / (1 - v)


def test_worked_example_against_phe_algorithm():
    # wards of a made-up ICB: events and populations (sparse: one ward with no events)
    events = np.array([0, 3, 12, 40, 95])
    population = np.array([2_000, 5_000, 9_000, 20_000, 41_000])
    average = events.sum() / population.sum()
    limits = funnel.funnel_limits(events, population, 1e5)
    assert limits["baseline"].iloc[0] == pytest.approx(average * 1e5)
    # PHE's grid: axis 0 (max > 2 x min) to ceiling(signif.ceiling(41000) * av); signif.ceiling(41000 * 1.05)
    # = 44000 (n = nchar(43050) - 2 = 3), i.e. 86 events; each of the 100 steps adds at least one event,
    # so with so few events the grid is 1, 2, ..., 100
    assert math.ceil(44_000 * average) == 86
    assert limits["events"].tolist() == list(range(1, 101))
    for e in (1, 2, 7, 30, 86):
        row = limits[limits["events"] == e]
        if row.empty:
            continue
        row = row.iloc[0]
        pop_lower = _poisson_funnel(e, 0.025, "high") / average
        pop_upper = _poisson_funnel(e, 0.025, "low") / average
        assert row["lower_95"] == pytest.approx(e / pop_lower * 1e5, rel=1e-5)
        assert row["upper_95"] == pytest.approx(e / pop_upper * 1e5, rel=1e-5)
        pop_lower = _poisson_funnel(e, 0.001, "high") / average
        assert row["lower_998"] == pytest.approx(e / pop_lower * 1e5, rel=1e-5)


def _phe_significance(obs, expected_pop, average, p, side):
    """PHE's funnel_ratio_significance (R/utils.R) for a rate: a limit of obs over the population."""
    if obs == 0 and side == "low":
        stat = 0.0
    elif obs < 10:
        if side == "low":  # qchisq(0.5 + p / 2, 2 obs, lower.tail = FALSE) / 2
            stat = chi2.isf(0.5 + p / 2, 2 * obs) / 2 if obs > 0 else 0.0
        else:  # qchisq(0.5 + p / 2, 2 obs + 2) / 2
            stat = chi2.ppf(0.5 + p / 2, 2 * obs + 2) / 2
    else:
        z = norm.ppf(0.5 + p / 2)
        if side == "low":
            stat = obs * (1 - 1 / (9 * obs) - z / 3 / math.sqrt(obs)) ** 3
        else:
            o = obs + 1
            stat = o * (1 - 1 / (9 * o) + z / 3 / math.sqrt(o)) ** 3
    return stat / expected_pop


def test_significance_follows_phe():
    events = np.array([0, 3, 12, 40, 95, 4, 9])
    population = np.array([2_000, 5_000, 9_000, 20_000, 41_000, 300, 600])
    average = events.sum() / population.sum()
    l95, u95 = funnel.rate_limits(events, population, 1e5, 0.95)
    l998, u998 = funnel.rate_limits(events, population, 1e5, 0.998)
    got = funnel.significance(l95, u95, l998, u998, average * 1e5)
    for i, (e, n) in enumerate(zip(events, population)):
        if average < _phe_significance(e, n, average, 0.998, "low"):
            want = "High (99.8%)"
        elif average < _phe_significance(e, n, average, 0.95, "low"):
            want = "High (95%)"
        elif average > _phe_significance(e, n, average, 0.998, "high"):
            want = "Low (99.8%)"
        elif average > _phe_significance(e, n, average, 0.95, "high"):
            want = "Low (95%)"
        else:
            want = "Not significant"
        assert got[i] == want, (e, n)
    assert set(got) >= {"High (99.8%)", "High (95%)", "Low (95%)", "Not significant"}  # the example exercises more than one verdict
    assert funnel.significance([float("nan")], [1.0], [1.0], [1.0], 0.5) == [None]  # suppressed: no verdict


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="population"):
        funnel.funnel_limits([1, 2], [100, 0])
    with pytest.raises(ValueError, match="at least one event"):
        funnel.funnel_limits([0, 0], [100, 200])

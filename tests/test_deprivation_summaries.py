"""MHCLG area summaries worked by hand on small inputs."""
import pandas as pd
import pytest

from geo.build.deprivation_summaries import extent_weight, summarise


def lsoas():
    return pd.DataFrame({
        "lad": ["A", "A", "A", "A", "B", "B"],
        "imd_rank": [5, 15, 29, 80, 3, 40],
        "imd_score": [50.0, 30.0, 20.0, 5.0, 55.0, 12.0],
        "imd_decile": [1, 2, 3, 8, 1, 4],
        "population": [100, 200, 300, 400, 40, 560],
    })


def test_extent_weights_at_their_edges():
    ranks = pd.Series([1, 10, 11, 12, 29, 30, 100])
    # N = 100: percentile = rank; weight 1 up to the 10th percentile, then (30 - p) / 20
    assert extent_weight(ranks, 100).tolist() == pytest.approx([1, 1, 0.95, 0.9, 0.05, 0, 0])


def test_summary_measures_by_hand():
    out = summarise(lsoas(), "lad", "population", n_national=100).set_index("lad")
    a = out.loc["A"]
    assert a["lsoas"] == 4 and a["population"] == 1000
    assert a["average_score"] == pytest.approx((50 * 100 + 30 * 200 + 20 * 300 + 5 * 400) / 1000)
    assert a["average_rank"] == pytest.approx((5 * 100 + 15 * 200 + 29 * 300 + 80 * 400) / 1000)
    assert a["proportion_most_deprived_10pc"] == pytest.approx(0.25)
    assert a["extent"] == pytest.approx((100 * 1 + 200 * 0.75 + 300 * 0.05) / 1000)
    assert a["local_concentration"] == pytest.approx(5.0)  # the most deprived LSOA holds exactly 10%
    b = out.loc["B"]
    # 10% of 600 = 60: all 40 people of rank 3 and 20 of the 560 of rank 40
    assert b["local_concentration"] == pytest.approx((3 * 40 + 40 * 20) / 60)
    # A: average score 19.0, average rank 44.2; B: (55*40 + 12*560)/600 = 14.87 and (3*40 + 40*560)/600 = 37.5
    assert a["rank_average_score"] == 1 and b["rank_average_score"] == 2  # higher score is more deprived
    assert b["rank_average_rank"] == 1 and a["rank_average_rank"] == 2  # lower average rank is more deprived
    assert a["rank_local_concentration"] == 1  # A's most deprived 10% sit at rank 5, B's at 15.3
    assert b["extent"] == pytest.approx(40 / 600)  # only the 40 people at rank 3 count
    assert a["rank_extent"] == 1

"""MHCLG area summaries (File 10/13 measures) worked by hand from the published definitions.

Definitions: IoD2019 Technical report, Appendix N (extent's weights: 1 up to the 10th percentile,
0.95 at the 11th falling by 0.9/19 a percentile to 0.05 at the 30th, 0 beyond) and MHCLG's rank
scale for summary measures (the most deprived LSOA counts as N, so higher = more deprived).
"""
import pandas as pd
import pytest

from geo.build.deprivation_summaries import extent_weight, summarise


def lsoas():
    # N = 100 LSOAs nationally, so an LSOA's percentile is its rank and its summary rank 101 - rank
    return pd.DataFrame({
        "lad": ["A", "A", "A", "A", "B", "B"],
        "imd_rank": [5, 15, 29, 80, 3, 40],
        "imd_score": [50.0, 30.0, 20.0, 5.0, 55.0, 12.0],
        "imd_decile": [1, 2, 3, 8, 1, 4],
        "population": [100, 200, 300, 400, 40, 560],
    })


def test_extent_weights_at_their_edges():
    ranks = pd.Series([1, 10, 11, 12, 29, 30, 31, 100])
    # weight 1 up to the 10th percentile; 0.95 at the 11th; steps of 0.9/19; 0.05 at the 30th; then 0
    want = [1, 1, 0.95, 0.95 - 0.9 / 19, 0.95 - 18 * 0.9 / 19, 0.05, 0, 0]
    assert extent_weight(ranks, 100).tolist() == pytest.approx(want, rel=1e-12)
    # percentiles on England's 33,755 LSOAs: rank 3,375 is in the 10th percentile, 3,376 in the 11th
    assert extent_weight(pd.Series([3375, 3376, 10126, 10127]), 33_755).tolist() == pytest.approx(
        [1, 0.95, 0.05, 0])


def test_summary_measures_by_hand():
    out = summarise(lsoas(), "lad", "population", n_national=100).set_index("lad")
    a = out.loc["A"]
    assert a["lsoas"] == 4 and a["population"] == 1000
    assert a["average_score"] == pytest.approx((50 * 100 + 30 * 200 + 20 * 300 + 5 * 400) / 1000)
    # summary ranks 96, 86, 72, 21
    assert a["average_rank"] == pytest.approx(56.8)
    assert a["proportion_most_deprived_10pc"] == pytest.approx(0.25)
    # percentiles 5, 15, 29, 80: weights 1, 14.45/19, 1.85/19, 0
    assert a["extent"] == pytest.approx((100 + 200 * 14.45 / 19 + 300 * 1.85 / 19) / 1000, rel=1e-12)
    assert a["extent"] == pytest.approx(0.281315789, rel=1e-8)
    assert a["local_concentration"] == pytest.approx(96.0)  # the most deprived LSOA holds exactly 10%
    b = out.loc["B"]
    assert b["average_rank"] == pytest.approx((98 * 40 + 61 * 560) / 600)  # 63.47
    # 10% of 600 = 60: all 40 people of summary rank 98 and 20 of the 560 of summary rank 61
    assert b["local_concentration"] == pytest.approx((98 * 40 + 61 * 20) / 60)  # 85.67
    assert b["extent"] == pytest.approx(40 / 600)  # only the 40 people at rank 3 count
    # every rank_ column: 1 = most deprived
    assert a["rank_average_score"] == 1 and b["rank_average_score"] == 2  # higher score is more deprived
    assert b["rank_average_rank"] == 1 and a["rank_average_rank"] == 2  # higher average rank is more deprived
    assert a["rank_local_concentration"] == 1
    assert a["rank_extent"] == 1 and b["rank_extent"] == 2


def test_hartlepool_against_mhclg_file_10(england_store):
    """MHCLG IoD2025 File 10, Hartlepool (E06000001): average rank 23,076, local concentration
    33,623 (the figures quoted in issue 9). Gapmap weights by Census 2021 residents, MHCLG by its
    own mid-year denominators, so agreement is to within what the denominator moves (0.1%)."""
    lad = england_store.areas("lad").set_index("lad24cd").loc["E06000001"]
    assert lad["average_rank"] == pytest.approx(23_076, rel=1e-3)
    assert lad["local_concentration"] == pytest.approx(33_623, rel=1e-3)
    assert lad["rank_average_rank"] <= 30  # among the most deprived places

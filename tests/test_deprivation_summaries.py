"""MHCLG area summaries (File 10/13 measures) worked by hand from the published definitions.

Definitions: IoD2019 Technical report, Appendix N (extent's weights: 1 up to the 10th percentile,
0.95 at the 11th falling by 0.9/19 a percentile to 0.05 at the 30th, 0 beyond) and MHCLG's rank
scale for summary measures (the most deprived LSOA counts as N, so higher = more deprived).
"""
import pandas as pd
import pytest

from geo.build.deprivation_summaries import DOMAIN_MEASURES, extent_weight, measure_columns, summarise, summarise_all


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


# ---- the seven domains, as File 10/13's domain sheets (issue 21) -------------------------------

def domain_lsoas():
    """The same LSOAs with an income domain ranked the other way round: LAD B the more deprived."""
    frame = lsoas()
    frame["income_rank"] = [95, 85, 71, 20, 2, 9]
    frame["income_score"] = [0.02, 0.05, 0.08, 0.15, 0.40, 0.30]
    frame["income_decile"] = [10, 9, 8, 2, 1, 1]
    return frame


def test_domain_summaries_by_hand():
    out = summarise(domain_lsoas(), "lad", "population", n_national=100, domain="income").set_index("lad")
    assert [c for c in out.columns if c not in ("lsoas", "population")] == measure_columns("income")
    a, b = out.loc["A"], out.loc["B"]
    # the domain's own score, rank and decile, not the IMD's
    assert a["income_average_score"] == pytest.approx((0.02 * 100 + 0.05 * 200 + 0.08 * 300 + 0.15 * 400) / 1000)
    assert a["income_average_rank"] == pytest.approx((6 * 100 + 16 * 200 + 30 * 300 + 81 * 400) / 1000)  # 101 - rank
    assert b["income_proportion_most_deprived_10pc"] == 1.0 and a["income_proportion_most_deprived_10pc"] == 0
    assert b["income_extent"] == 1.0  # both LSOAs in the most deprived 10%
    assert a["income_extent"] == pytest.approx(400 * (0.95 - (20 - 11) * 0.9 / 19) / 1000)  # only rank 20 counts
    assert a["income_local_concentration"] == pytest.approx(81.0)  # rank 20 holds 40% of A: the top 10% is in it
    # 10% of 600 = 60: all 40 people at summary rank 99 (rank 2), then 20 of the 560 at 92 (rank 9)
    assert b["income_local_concentration"] == pytest.approx((99 * 40 + 92 * 20) / 60)
    assert b["rank_income_average_score"] == 1 and a["rank_income_average_score"] == 2


def test_summarise_all_has_the_imd_and_every_domain():
    frame = domain_lsoas()
    for domain in DOMAIN_MEASURES[2:]:  # every other domain: copies of the IMD's columns
        for part in ("score", "rank", "decile"):
            frame[f"{domain}_{part}"] = frame[f"imd_{part}"]
    out = summarise_all(frame, "lad", "population").set_index("lad")
    for domain in DOMAIN_MEASURES:
        assert set(measure_columns(domain)) <= set(out.columns)
    imd = summarise(frame, "lad", "population").set_index("lad")
    assert out["crime_extent"].tolist() == pytest.approx(imd["extent"].tolist())
    assert out["income_extent"].tolist() != pytest.approx(imd["extent"].tolist())
    with pytest.raises(ValueError, match="unknown deprivation domain"):
        measure_columns("wealth")


@pytest.mark.mirror
def test_domain_summaries_of_luton_recomputed_from_its_lsoas(england_store):
    """The build's domain summaries of Luton (E06000032) and BLMK, recomputed here from the LSOA
    table with the definitions written out again (each domain on its own national ranking)."""
    import numpy as np

    from geo.build.deprivation_summaries import summary_population

    lsoas_all = england_store.lsoas(geometry=False)
    population, _ = summary_population(lsoas_all)
    stored = england_store.areas("lad").set_index("lad24cd").loc["E06000032"]
    here = lsoas_all[lsoas_all["lad24cd"] == "E06000032"]
    pop = here[population].to_numpy(float)
    for domain in DOMAIN_MEASURES[1:]:
        n = int(lsoas_all[f"{domain}_rank"].max())
        rank = here[f"{domain}_rank"].to_numpy(float)
        score = here[f"{domain}_score"].to_numpy(float)
        assert stored[f"{domain}_average_score"] == pytest.approx((score * pop).sum() / pop.sum(), rel=1e-12)
        summary_rank = n + 1 - rank
        assert stored[f"{domain}_average_rank"] == pytest.approx((summary_rank * pop).sum() / pop.sum(), rel=1e-12)
        assert stored[f"{domain}_proportion_most_deprived_10pc"] == pytest.approx(
            (here[f"{domain}_decile"] == 1).mean())
        pct = np.ceil(100 * rank / n)
        weight = np.where(pct <= 10, 1, np.where(pct <= 30, 0.95 - (pct - 11) * 0.9 / 19, 0))
        assert stored[f"{domain}_extent"] == pytest.approx((weight * pop).sum() / pop.sum(), rel=1e-12)
        order = np.argsort(rank)  # most deprived first
        left, total = 0.1 * pop.sum(), 0.0
        for r, p_ in zip(summary_rank[order], pop[order]):
            take = min(p_, left)
            total += r * take
            left -= take
            if left <= 0:
                break
        assert stored[f"{domain}_local_concentration"] == pytest.approx(total / (0.1 * pop.sum()), rel=1e-9)
    # the domains are not the IMD again
    assert stored["income_average_rank"] != pytest.approx(stored["average_rank"])
    assert stored["living_environment_extent"] != pytest.approx(stored["extent"])

"""Weights and local statistics: exact small cases, and GeoDa (pygeoda) on real data."""
import numpy as np
import pandas as pd
import pytest
import shapely
import geopandas as gpd

from geo.stats import weights
from geo.stats.bivariate_moran import bivariate_moran
from geo.stats.getis_ord import getis_ord
from geo.stats.local_moran import local_moran
from geo.stats.moran import moran
from geo.stats.permutation import benjamini_hochberg, count_extreme, draw_table, p_values
from tests import fixture_mirror as fx


@pytest.fixture(scope="module")
def grid():
    polygons = fx.lsoa_polygons()
    return polygons[polygons.LSOA21CD.str.startswith("E")].rename(columns={"LSOA21CD": "lsoa21cd"}).to_crs(4326)


def neighbours(w):
    return {w.ids[i]: {w.ids[j] for j in nb} for i, nb in enumerate(w.neighbour_lists())}


def test_queen_and_rook_on_a_grid(grid):
    # 4 x 2 grid: E01000001..4 south row, E01000005..8 north row
    queen = neighbours(weights.build(grid, "queen"))
    rook = neighbours(weights.build(grid, "rook"))
    assert queen["E01000001"] == {"E01000002", "E01000005", "E01000006"}
    assert rook["E01000001"] == {"E01000002", "E01000005"}
    assert queen["E01000006"] == {"E01000001", "E01000002", "E01000003", "E01000005", "E01000007"}
    assert rook["E01000006"] == {"E01000002", "E01000005", "E01000007"}


def test_knn_and_distance_band(grid):
    knn = weights.build(grid, "knn", k=2)
    assert set(knn.cardinality) == {2}
    band = neighbours(weights.build(grid, "distance", distance_m=1100))
    assert band["E01000001"] == {"E01000002", "E01000005"}  # 1 km away; the diagonal is 1.41 km
    diag = neighbours(weights.build(grid, "distance", distance_m=1500))
    assert "E01000006" in diag["E01000001"]
    with pytest.raises(ValueError):
        weights.build(grid, "distance")


def test_islands_are_joined_to_their_nearest_and_reported(grid):
    island = gpd.GeoDataFrame({"lsoa21cd": ["E01000099"]}, geometry=[fx.square(7, 0)], crs=27700).to_crs(4326)
    w = weights.build(pd.concat([grid, island], ignore_index=True), "queen")
    assert w.islands_joined == ("E01000099",)
    assert neighbours(w)["E01000099"] == {"E01000004"}
    assert "E01000099" in neighbours(w)["E01000004"]
    assert weights.describe(w)["islands_joined"] == ["E01000099"]


def test_row_standardised_lag(grid):
    w = weights.build(grid, "rook")
    values = np.arange(1.0, 9.0)
    assert w.lag(values)[0] == pytest.approx((2 + 5) / 2)


def brute_force_counts(table, values, k, observed):
    """Conditional permutation done the slow, obvious way with the same draws."""
    greater = np.zeros(len(values), int)
    less = np.zeros(len(values), int)
    for i in range(len(values)):
        for row in table.samples:
            draw = [j for j in row if j != i][: k[i]]
            s = values[draw].sum()
            greater[i] += s >= observed[i] - 1e-9 * (abs(observed[i]) + 1)
            less[i] += s <= observed[i] + 1e-9 * (abs(observed[i]) + 1)
    return greater, less


def test_lookup_table_counts_equal_brute_force():
    rng = np.random.default_rng(0)
    n = 12
    values = rng.normal(size=n)
    k = rng.integers(1, 5, size=n)
    observed = rng.normal(size=n) * 2
    table = draw_table(n, int(k.max()), permutations=400, seed=3)
    got = count_extreme(table, values, k, observed)
    want = brute_force_counts(table, values, k, observed)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_p_value_directions():
    greater, less = np.array([0, 500, 999]), np.array([999, 499, 0])
    assert p_values(greater, less, 999, "greater").tolist() == pytest.approx([0.001, 0.501, 1.0])
    assert p_values(greater, less, 999, "folded").tolist() == pytest.approx([0.001, 0.5, 0.001])
    assert p_values(greater, less, 999, "two-sided").tolist() == pytest.approx([0.002, 1.0, 0.002])
    with pytest.raises(ValueError):
        p_values(greater, less, 999, "sideways")


def test_benjamini_hochberg_by_hand():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205, 0.212, 0.216])
    # m = 10, alpha = 0.05: thresholds 0.005, 0.010, 0.015, 0.020, 0.025 ...: the largest k with
    # p(k) <= k alpha / m is k = 2, so the two smallest are rejected (Bonferroni: only 0.001)
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True] + [False] * 8
    assert benjamini_hochberg(np.array([0.01, 0.02, 0.03, 0.04]), 0.05).all()
    assert not benjamini_hochberg(np.array([np.nan, 0.5]), 0.05).any()


def test_missing_values_are_no_data(grid):
    w = weights.build(grid, "queen")
    values = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0])
    out = local_moran(values, w, permutations=99)
    assert out.loc["E01000003", "cluster"] == "No data"
    assert np.isnan(out.loc["E01000003", "moran_i"])
    assert out.loc["E01000004", "neighbours"] == 2  # E01000003 no longer counts
    gi = getis_ord(values, w)
    assert gi.loc["E01000003", "spot"] == "No data"


def test_same_seed_same_map(grid):
    w = weights.build(grid, "queen")
    values = np.array([9.0, 8, 1, 2, 7, 9, 1, 0])
    a = local_moran(values, w, permutations=199, seed=5)
    b = local_moran(values, w, permutations=199, seed=5)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="alpha"):
        local_moran(values, w, alpha=0.2)
    with pytest.raises(ValueError, match="do not vary"):
        local_moran(np.ones(8), w)


# ---- against GeoDa on real data (BLMK ICB) -------------------------------------------------------

@pytest.fixture(scope="module")
def blmk(england_store):
    g = england_store.lsoas(icb="E54000024", columns=["lsoa21cd", "imd_score", "acute_morbidity_indicator"])
    return g.sort_values("lsoa21cd").reset_index(drop=True)


def clear(p_ours, p_geoda, alpha):
    """Both p-values well away from alpha (outside [alpha/2, 2 alpha])."""
    away = lambda p: (p < alpha / 2) | (p > 2 * alpha)
    return away(p_ours) & away(p_geoda)


@pytest.mark.mirror
def test_against_pygeoda(blmk):
    pygeoda = pytest.importorskip("pygeoda")
    w = weights.build(blmk, "queen")
    gda = pygeoda.open(blmk)
    gw = pygeoda.queen_weights(gda)
    assert all(set(gw.get_neighbors(i)) == set(nb.tolist()) for i, nb in enumerate(w.neighbour_lists()))
    x = blmk["imd_score"].to_numpy(float)
    y = blmk["acute_morbidity_indicator"].to_numpy(float)
    kw = dict(permutations=999, permutation_method="lookup-table", seed=1, significance_cutoff=0.05)
    cases = [
        (local_moran(x, w, direction="folded"), pygeoda.local_moran(gw, blmk["imd_score"], **kw), "moran_i", "cluster"),
        (bivariate_moran(x, y, w, direction="folded"),
         pygeoda.local_bimoran(gw, blmk["imd_score"], blmk["acute_morbidity_indicator"], **kw), "moran_i", "cluster"),
    ]
    for ours, theirs, stat, label in cases:
        np.testing.assert_allclose(ours[stat].to_numpy(), np.array(theirs.lisa_values()), rtol=0, atol=1e-9)
        p_theirs = np.array(theirs.lisa_pvalues())
        labels = np.array(theirs.lisa_labels())[np.array(theirs.lisa_clusters())]
        ok = clear(ours["p_value"].to_numpy(), p_theirs, 0.05)
        assert ok.sum() > 400
        np.testing.assert_array_equal(ours[label].to_numpy()[ok], labels[ok])
    gi = getis_ord(x, w, inference="permutation", direction="folded")
    theirs = pygeoda.local_gstar(gw, blmk["imd_score"], **kw)
    np.testing.assert_allclose(gi["g_star"].to_numpy(), np.array(theirs.lisa_values()), rtol=0, atol=1e-9)
    p_theirs = np.array(theirs.lisa_pvalues())
    ok = clear(gi["p_permutation"].to_numpy(), p_theirs, 0.05)
    ours_sig = gi["p_permutation"].to_numpy() <= 0.05
    theirs_sig = np.array(theirs.lisa_clusters()) > 0
    np.testing.assert_array_equal(ours_sig[ok], theirs_sig[ok])
    hot = np.array(theirs.lisa_clusters()) == 1
    assert (gi["bin"].to_numpy()[hot & ok] > 0).all()


@pytest.mark.mirror
def test_global_moran_and_gi_z_against_esda(blmk):
    esda = pytest.importorskip("esda")
    w = weights.build(blmk, "queen")
    x = blmk["imd_score"].to_numpy(float)
    ours = moran(x, w, permutations=999)
    theirs = esda.Moran(x, w.to_libpysal(), permutations=99)
    assert ours["moran_i"] == pytest.approx(theirs.I, abs=1e-12)
    assert ours["p_value"] == pytest.approx(0.002)  # no permutation comes near I = 0.54
    gi = getis_ord(x, w)
    binary = w.to_libpysal()
    binary.transform = "B"
    ref = esda.G_Local(x, binary, star=True, transform="B", permutations=0)
    np.testing.assert_allclose(gi["z"].to_numpy(), ref.Zs, atol=1e-9)


@pytest.mark.mirror
def test_fdr_does_not_collapse_to_bonferroni(blmk):
    w = weights.build(blmk, "queen")
    x = blmk["imd_score"].to_numpy(float)
    fdr = local_moran(x, w, permutations=9999, fdr=True)
    plain = local_moran(x, w, permutations=9999)
    bonferroni = (plain["p_value"] <= 0.05 / len(x)).sum()
    assert bonferroni < fdr["significant"].sum() < plain["significant"].sum()

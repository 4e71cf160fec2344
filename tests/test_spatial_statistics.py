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
    # no data has its own bin code, not 0 ("not significant")
    assert gi.loc["E01000003", "bin"] == 9 and not gi.loc["E01000003", "significant"]
    assert (gi.drop(index="E01000003")["bin"].abs() <= 3).all()
    from geo.stats.getis_ord import BIN_LABELS, NO_DATA_BIN
    assert BIN_LABELS[NO_DATA_BIN] == "No data" and NO_DATA_BIN not in range(-3, 4)


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
        (local_moran(x, w), pygeoda.local_moran(gw, blmk["imd_score"], **kw), "moran_i", "cluster"),
        (bivariate_moran(x, y, w),  # the default convention is GeoDa's
         pygeoda.local_bimoran(gw, blmk["imd_score"], blmk["acute_morbidity_indicator"], **kw), "moran_i", "cluster"),
    ]
    for ours, theirs, stat, label in cases:
        np.testing.assert_allclose(ours[stat].to_numpy(), np.array(theirs.lisa_values()), rtol=0, atol=1e-9)
        p_theirs = np.array(theirs.lisa_pvalues())
        labels = np.array(theirs.lisa_labels())[np.array(theirs.lisa_clusters())]
        ok = clear(ours["p_value"].to_numpy(), p_theirs, 0.05)
        assert ok.sum() > 400
        np.testing.assert_array_equal(ours[label].to_numpy()[ok], labels[ok])
    gi = getis_ord(x, w, inference="permutation")  # default: folded, as GeoDa
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
    assert ours["p_value"] == pytest.approx(0.001)  # no permutation comes near I = 0.54 (folded, the default)
    assert moran(x, w, permutations=999, direction="two-sided")["p_value"] == pytest.approx(0.002)
    gi = getis_ord(x, w)
    binary = w.to_libpysal()
    binary.transform = "B"
    ref = esda.G_Local(x, binary, star=True, transform="B", permutations=0)
    np.testing.assert_allclose(gi["z"].to_numpy(), ref.Zs, atol=1e-9)
    # the default p-value convention is esda's (folded: one tail of |z|)
    assert gi.attrs["p_value_convention"] == "folded"
    np.testing.assert_allclose(gi["p_analytic"].to_numpy(), ref.p_norm, atol=1e-12)
    two = getis_ord(x, w, direction="two-sided")
    np.testing.assert_allclose(two["p_analytic"].to_numpy(), np.minimum(1, 2 * ref.p_norm), atol=1e-12)


@pytest.mark.mirror
def test_fdr_does_not_collapse_to_bonferroni(blmk):
    w = weights.build(blmk, "queen")
    x = blmk["imd_score"].to_numpy(float)
    fdr = local_moran(x, w, permutations=9999, fdr=True)
    plain = local_moran(x, w, permutations=9999)
    bonferroni = (plain["p_value"] <= 0.05 / len(x)).sum()
    assert bonferroni < fdr["significant"].sum() < plain["significant"].sum()


def bh_by_hand(p, q):
    """Benjamini-Hochberg written out again: reject the k smallest, k the largest rank with
    p(k) <= k q / m."""
    ok = ~np.isnan(p)
    m = ok.sum()
    order = np.argsort(np.where(ok, p, np.inf))
    k = 0
    for rank, i in enumerate(order[:m], start=1):
        if p[i] <= rank * q / m:
            k = rank
    out = np.zeros(len(p), dtype=bool)
    out[order[:k]] = True
    return out


def test_gi_star_applies_alpha_and_fdr():
    """Defect 5: --alpha and --fdr change Gi*'s spots (they were ignored)."""
    rng = np.random.default_rng(4)
    side = 12
    cells = [fx.square(c, r) for r in range(side) for c in range(side)]
    grid = gpd.GeoDataFrame({"lsoa21cd": [f"E01{i:06d}" for i in range(side * side)]}, geometry=cells,
                            crs=27700).to_crs(4326)
    w = weights.build(grid, "queen")
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    x = (col.ravel() + row.ravel()) / 3 + rng.normal(0, 2, side * side)  # a gradient: hot and cold corners
    plain = getis_ord(x, w)
    p = np.minimum(1, 2 * plain["p_value"].to_numpy())  # the levels are two-sided (issue 21)
    np.testing.assert_allclose(plain["p_two_sided"].to_numpy(), p)
    sign = np.sign(plain["z"].to_numpy())
    # default: the 90/95/99% levels by the two-sided p
    want = np.select([p <= 0.01, p <= 0.05, p <= 0.10], [3, 2, 1], 0) * sign
    np.testing.assert_array_equal(plain["bin"].to_numpy(), want)
    strict = getis_ord(x, w, alpha=0.01)
    np.testing.assert_array_equal(strict["bin"].to_numpy(), np.where(p <= 0.01, 3, 0) * sign)
    a05 = getis_ord(x, w, alpha=0.05)
    np.testing.assert_array_equal(a05["bin"].to_numpy(), np.select([p <= 0.01, p <= 0.05], [3, 2], 0) * sign)
    fdr = getis_ord(x, w, fdr=True)
    want = np.select([bh_by_hand(p, 0.01), bh_by_hand(p, 0.05), bh_by_hand(p, 0.10)], [3, 2, 1], 0) * sign
    np.testing.assert_array_equal(fdr["bin"].to_numpy(), want)
    fdr01 = getis_ord(x, w, alpha=0.01, fdr=True)
    np.testing.assert_array_equal(fdr01["bin"].to_numpy(), np.where(bh_by_hand(p, 0.01), 3, 0) * sign)
    counts = [int((t["bin"] != 0).sum()) for t in (plain, a05, strict, fdr, fdr01)]
    assert counts[0] > counts[1] > counts[2] > 0 and counts[3] < counts[0] and counts[4] <= counts[2]
    assert "false discovery rate" in fdr01.attrs["method"] and "0.01" in fdr01.attrs["method"]
    with pytest.raises(ValueError, match="alpha"):
        getis_ord(x, w, alpha=0.2)
    flat = getis_ord(np.ones(side * side), w)  # no variance: no z, nothing significant
    assert (flat["bin"] == 0).all()


def test_default_p_value_convention_is_folded(grid):
    """Defect 6: folded (GeoDa, esda) by default; two-sided is twice it; the method says which."""
    w = weights.build(grid, "queen")
    values = np.array([9.0, 8, 1, 2, 7, 9, 1, 0])
    folded = local_moran(values, w, permutations=199, seed=3)
    two = local_moran(values, w, permutations=199, seed=3, direction="two-sided")
    np.testing.assert_allclose(two["p_value"], np.minimum(1, 2 * folded["p_value"]))
    assert folded.attrs["p_value_convention"] == "folded" and "folded" in folded.attrs["method"]
    assert "two-sided" in two.attrs["method"]
    gi = getis_ord(values, w, inference="permutation", permutations=199)
    assert gi.attrs["p_value_convention"] == "folded" and "as GeoDa and esda" in gi.attrs["method"]
    assert moran(values, w, permutations=99)["p_value_convention"] == "folded"


# ---- Gi* confidence levels are two-sided, as ArcGIS's Hot Spot Analysis (issue 21) ---------------

def gradient_grid(side=12, seed=4):
    rng = np.random.default_rng(seed)
    cells = [fx.square(c, r) for r in range(side) for c in range(side)]
    grid = gpd.GeoDataFrame({"lsoa21cd": [f"E01{i:06d}" for i in range(side * side)]}, geometry=cells,
                            crs=27700).to_crs(4326)
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    return grid, (col.ravel() + row.ravel()) / 3 + rng.normal(0, 2, side * side)


def arcgis_bins(z, fdr=False):
    """ArcGIS's Gi_Bin written out from z alone: two-sided normal levels 90/95/99%, |z| at least
    norm.ppf(0.95), norm.ppf(0.975), norm.ppf(0.995); with FDR, Benjamini-Hochberg at each level on
    the two-sided p."""
    from scipy.stats import norm

    z = np.asarray(z, dtype=float)
    if fdr:
        p = 2 * norm.sf(np.abs(z))
        passes = [bh_by_hand(p, level) for level in (0.10, 0.05, 0.01)]
    else:
        passes = [np.abs(z) >= norm.ppf(1 - level / 2) for level in (0.10, 0.05, 0.01)]
    return np.select(passes[::-1], [3, 2, 1], 0) * np.sign(z)


def esda_zs(x, w):
    esda = pytest.importorskip("esda")
    binary = w.to_libpysal()
    binary.transform = "B"
    return esda.G_Local(x, binary, star=True, transform="B", permutations=0).Zs


def test_gi_star_levels_are_two_sided_as_arcgis():
    """Old behaviour graded on the folded (one-tail) p: |z| >= 1.28 was 'Hot spot, 90% confidence'."""
    from scipy.stats import norm

    grid, x = gradient_grid()
    w = weights.build(grid, "queen")
    zs = esda_zs(x, w)
    assert norm.ppf(0.95) == pytest.approx(1.645, abs=5e-4) and norm.ppf(0.975) == pytest.approx(1.960, abs=5e-4)
    assert norm.ppf(0.995) == pytest.approx(2.576, abs=5e-4)
    gi = getis_ord(x, w)
    np.testing.assert_allclose(gi["z"].to_numpy(), zs, atol=1e-12)
    np.testing.assert_array_equal(gi["bin"].to_numpy(), arcgis_bins(zs))
    # the same levels whatever the printed convention (folded or two-sided)
    np.testing.assert_array_equal(getis_ord(x, w, direction="two-sided")["bin"].to_numpy(), arcgis_bins(zs))
    # between the one-tail and the two-sided thresholds: not a 90% spot any more
    between = (np.abs(zs) >= norm.ppf(0.90)) & (np.abs(zs) < norm.ppf(0.95))
    assert between.any() and (gi["bin"].to_numpy()[between] == 0).all()
    np.testing.assert_array_equal(getis_ord(x, w, fdr=True)["bin"].to_numpy(), arcgis_bins(zs, fdr=True))
    assert "two-sided" in gi.attrs["levels"] and "1.645" in gi.attrs["method"] and "ArcGIS" in gi.attrs["method"]
    # alpha and the FDR apply to the two-sided p, and the method says so
    assert "significant where the two-sided p <= 0.05" in getis_ord(x, w, alpha=0.05).attrs["method"]
    assert "on the two-sided p" in getis_ord(x, w, fdr=True).attrs["method"]
    # a one-sided test asked for grades one-sided, and says so
    greater = getis_ord(x, w, direction="greater")
    want = np.select([zs >= norm.ppf(0.99), zs >= norm.ppf(0.95), zs >= norm.ppf(0.90)], [3, 2, 1], 0)
    np.testing.assert_array_equal(greater["bin"].to_numpy(), want)
    assert "one-sided" in greater.attrs["method"]


@pytest.mark.mirror
def test_gi_star_levels_two_sided_on_blmk(blmk):
    """Real BLMK IMD scores: every bin as ArcGIS grades esda's z, with and without FDR; about a
    third of the LSOAs had another level under the old one-tail grading."""
    from scipy.stats import norm

    w = weights.build(blmk, "queen")
    x = blmk["imd_score"].to_numpy(float)
    zs = esda_zs(x, w)
    gi = getis_ord(x, w)
    np.testing.assert_array_equal(gi["bin"].to_numpy(), arcgis_bins(zs))
    np.testing.assert_array_equal(getis_ord(x, w, fdr=True)["bin"].to_numpy(), arcgis_bins(zs, fdr=True))
    one_tail = np.select([np.abs(zs) >= norm.ppf(1 - a) for a in (0.01, 0.05, 0.10)], [3, 2, 1], 0) * np.sign(zs)
    changed = (one_tail != gi["bin"].to_numpy()).mean()
    assert 0.2 < changed < 0.45
    # permutation inference: the two-sided pseudo p against GeoDa's (folded) doubled, away from the levels
    pygeoda = pytest.importorskip("pygeoda")
    gw = pygeoda.queen_weights(pygeoda.open(blmk))
    theirs = pygeoda.local_gstar(gw, blmk["imd_score"], permutations=999, permutation_method="lookup-table", seed=1)
    p_theirs = np.minimum(1, 2 * np.array(theirs.lisa_pvalues()))
    perm = getis_ord(x, w, inference="permutation")
    ok = clear(perm["p_two_sided"].to_numpy(), p_theirs, 0.05)
    assert ok.sum() > 400
    np.testing.assert_array_equal((np.abs(perm["bin"].to_numpy()) >= 2)[ok], (p_theirs <= 0.05)[ok])

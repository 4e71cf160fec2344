"""Empirical Bayes smoothed rates (geo.rates.smoothing) against PySAL esda's implementation, an
independent reference, and the rules for hidden counts."""
import numpy as np
import pytest

from geo.rates.smoothing import eb_standardised, empirical_bayes, spatial_empirical_bayes

libpysal = pytest.importorskip("libpysal")
smoothing = pytest.importorskip("esda.smoothing")


def grid(seed=1, overdispersed=True):
    rng = np.random.default_rng(seed)
    w = libpysal.weights.lat2W(7, 7)
    w.transform = "b"
    b = rng.integers(800, 3000, w.n).astype(float)
    risk = rng.gamma(2.0, 0.002, w.n) if overdispersed else np.full(w.n, 0.004)
    e = rng.poisson(b * risk).astype(float)
    neighbours = [np.array([w.id2i[j] for j in w.neighbors[i]]) for i in w.id_order]
    return w, e, b, neighbours


def test_global_empirical_bayes_equals_esda():
    w, e, b, _ = grid()
    np.testing.assert_allclose(empirical_bayes(e, b), smoothing.Empirical_Bayes(e, b).r.ravel(), rtol=1e-12)


def test_a_negative_variance_between_areas_shrinks_to_the_mean():
    """Marshall (and GeoDa) set the between-area variance to 0 where it comes out negative (no more
    variation than chance): every area then takes the mean. (esda leaves it negative.)"""
    w, e, b, _ = grid(3, overdispersed=False)
    out = empirical_bayes(e, b)
    assert out == pytest.approx(np.full(len(e), e.sum() / b.sum()))


def test_spatial_empirical_bayes_equals_esda():
    w, e, b, neighbours = grid(2)
    np.testing.assert_allclose(spatial_empirical_bayes(e, b, neighbours),
                               smoothing.Spatial_Empirical_Bayes(e, b, w).r.ravel(), rtol=1e-12)


def test_eb_standardised_rates_equal_esda_on_sparse_counts():
    """Assuncao and Reis's EB standardisation (the values the smoothed view's hot spots are computed
    on) against esda's ``assuncao_rate``, on a grid where most areas have no event, and on one whose
    between-area variance is negative (v_i falls back to m / b_i)."""
    rng = np.random.default_rng(7)
    b = rng.integers(800, 3000, 49).astype(float)
    e = rng.poisson(b * 0.0002).astype(float)
    assert (e == 0).mean() > 0.5
    np.testing.assert_allclose(eb_standardised(e, b), smoothing.assuncao_rate(e, b), rtol=1e-12)
    _, e2, b2, _ = grid(3, overdispersed=False)
    np.testing.assert_allclose(eb_standardised(e2, b2), smoothing.assuncao_rate(e2, b2), rtol=1e-12)
    known = np.ones(49, bool)
    known[:5] = False  # an area left out takes no part and gets no value
    out = eb_standardised(e, b, known)
    assert np.isnan(out[:5]).all()
    np.testing.assert_allclose(out[5:], smoothing.assuncao_rate(e[5:], b[5:]), rtol=1e-12)


def test_a_hidden_count_never_shapes_its_own_smoothed_value():
    """Sparse data (most counts 0 or hidden): an area whose count is hidden takes its neighbours'
    prior; changing its hidden count (within 1-7) changes nothing anywhere."""
    w, e, b, neighbours = grid(4)
    e = np.where(np.arange(len(e)) % 3 == 0, 0.0, e / 20).round()  # sparse
    known = ~((e >= 1) & (e <= 7))
    first = spatial_empirical_bayes(e, b, neighbours, known)
    e2 = np.where(known, e, 7 - e + 1)
    second = spatial_empirical_bayes(e2, b, neighbours, known)
    np.testing.assert_array_equal(first, second)
    i = int(np.flatnonzero(~known)[0])
    hood = [j for j in neighbours[i] if known[j]]
    assert first[i] == pytest.approx(e[hood].sum() / b[hood].sum())
    assert np.isfinite(first).all()
    assert empirical_bayes(e, b, known)[i] == pytest.approx(e[known].sum() / b[known].sum())


def test_the_map_offers_smoothed_rates_from_published_counts(fixture_store, tmp_path):
    """Rare events: every LSOA gets a smoothed value (a hidden count counted as 4, the middle of
    1-7), named on the map and in the exports' metadata; which hidden count it was moves nothing."""
    from app.map_layers import choropleth_map, page_data
    from geo.ingest.pipeline import IngestOptions, ingest
    from geo.store.datasets import DatasetStore
    from geo.views import map_table
    from geo.views.analysis import Extent

    tables = []
    for name, second in (("rare-a", 3), ("rare-b", 6)):  # E01000002 hidden either way (3 or 6 events)
        path = tmp_path / f"{name}.csv"
        path.write_text("lsoa21cd,count\nE01000001,12\nE01000002,%d\nE01000003,0\nE01000004,25\nE01000005,10\n"
                        "E01000006,0\nE01000007,40\nE01000008,15\n" % second)
        ingest(path, IngestOptions(name=name, measure="Admissions"), fixture_store)
        tables.append(map_table.map_table(fixture_store, name, Extent()))
    try:
        a, b = (t.frame.set_index("lsoa21cd") for t in tables)
        assert a["smoothed"].notna().all() and "spatial empirical Bayes" in tables[0].meta["smoothed"]
        assert a.loc["E01000002", "suppressed"] and a.loc["E01000002", "smoothed"] == b.loc["E01000002", "smoothed"]
        assert (a["smoothed"] == b["smoothed"]).all()  # the hidden count shapes nothing
        assert (a["eb_standardised"] == b["eb_standardised"]).all() and (a["gi_eb_z"] == b["gi_eb_z"]).all()
        assert "Assuncao and Reis" in tables[0].meta["eb_statistics"]
        assert "ward_value" in a and "Ward figure" in tables[0].meta["ward_values"]  # in every export too
        from geo.outputs import exports

        exported, meta = exports.export_table(fixture_store, "rare-a", Extent(), geometry=False)
        assert {"rate_per_100000_smoothed", "ward_rate_per_100000", "eb_standardised_z", "gi_star_eb_bin",
                "smoothed_hot_spot_level"} <= set(exported.columns)  # named by what they hold
        assert meta["fields"]["ward_rate_per_100000"].startswith("Ward figure")
        assert "spatial empirical Bayes" in meta["smoothed"] and "Ward figure" in meta["ward_values"]
        views = [v["key"] if isinstance(v, dict) else v[0] for v in page_data(choropleth_map(
            fixture_store, "rare-a", Extent()))["views"]]
        assert "smoothed" in views and "ward" in views and "hot_eb" in views  # and each LSOA by its ward's published figure
    finally:
        for name in ("rare-a", "rare-b"):
            DatasetStore(fixture_store).remove(name)

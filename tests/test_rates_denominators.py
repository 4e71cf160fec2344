"""Rates whose denominators are the WHOLE population of each group (issue 9, defect 1), the
ESP 2013 weights (defect 2), checked against answers written by hand and against independent
recomputations from the raw inputs.

The independent recomputations below use only: the test's own records (a pandas frame written
here), the store's population inputs (ONS mid-2020 single-year-of-age counts per LSOA and Census
2021 residents by ethnic group, as loaded from the source files) and the LSOAs' groups (quintile,
ward). They never call :func:`geo.store.datasets.rates`, and use the ESP 2013 weights typed in here
from the published table.
"""
import numpy as np
import pandas as pd
import pytest

from geo.views import analysis, map_table
from geo.views.analysis import Extent
from geo.store.datasets import _esp_weight
from geo.ingest.pipeline import IngestOptions, ingest
from tests.test_ingest import write

# European Standard Population 2013, as published (Eurostat 2013; /work/shared/data/README.md)
ESP2013_PUBLISHED = {"0-4": 5000, "5-9": 5500, "10-14": 5500, "15-19": 5500, "20-24": 6000, "25-29": 6000,
                     "30-34": 6500, "35-39": 7000, "40-44": 7000, "45-49": 7000, "50-54": 7000, "55-59": 6500,
                     "60-64": 6000, "65-69": 5500, "70-74": 5000, "75-79": 4000, "80-84": 2500, "85-89": 1500,
                     "90+": 1000}
NO_DISCLOSURE = {"suppress_to": 0, "round_to": 1}  # asked for, but the server's floor wins unless lowered
REL = 1e-9


@pytest.fixture(autouse=True)
def _exact(exact_counts):
    """Every formula test here compares with an independent recomputation to 1e-9."""
    yield


def by_group(store, name, extent, grouping, **kw):
    return map_table.group_table(store, name, extent, grouping, **kw)


@pytest.fixture(scope="module")
def fixture_store_copy(fixture_mirror, tmp_path_factory):
    from geo.build.pipeline import build
    from geo.store.folder import Store

    store = Store(tmp_path_factory.mktemp("rates-store"))
    build(store, mirror=fixture_mirror)
    return store


def ingest_records(store, tmp_path, name, records: pd.DataFrame):
    """records: lsoa, age, ethnic_category, sex, arrival_date."""
    path = write(tmp_path / f"{name}.csv", records.to_csv(index=False))
    ingest(path, IngestOptions(name=name, by=("age_band", "sex", "ethnic_group", "period"), measure="test",
                               disclosure=NO_DISCLOSURE), store)


# --- defect 2: ESP 2013 ---------------------------------------------------------------------------

def test_the_19_esp_weights_are_the_published_ones():
    lo = np.array([5 * i for i in range(19)])
    hi = np.array([5 * i + 4 for i in range(18)] + [-1])
    weights = _esp_weight(lo, hi)
    assert weights.tolist() == list(map(float, ESP2013_PUBLISHED.values()))
    assert weights.sum() == 100_000
    assert _esp_weight(np.array([85]), np.array([89]))[0] == 1500  # was 2,500 (the 90+ weight counted twice)
    # wider bands add up the ESP bands they cover; bands off the 5-year boundaries have none
    assert _esp_weight(np.array([0, 85, 80, 0]), np.array([14, -1, 89, 17])).tolist()[:3] == [16000, 2500, 4000]
    assert np.isnan(_esp_weight(np.array([0, 91, 3]), np.array([17, -1, 7]))).all()


def test_the_store_esp_constant_is_the_published_table():
    from geo.ingest.codes import ESP2013, ESP_BANDS

    assert dict(zip(ESP_BANDS, ESP2013)) == ESP2013_PUBLISHED and sum(ESP2013) == 100_000


# --- defect 1: a sparse extent worked by hand ----------------------------------------------------

def test_a_sparse_extent_by_hand(fixture_store_copy, tmp_path):
    """LAD E06000001 holds 4 LSOAs; only E01000001 has events: 7 at age 30, 5 at age 92, all White.

    Populations (fixture mid-2020, single year of age): E01000001 1,450 (age 0: 100, each other
    age 15), E01000002 1,580 (age 0: 50, others 17), E01000003 1,390 (40, then 15), E01000004 1,800
    (180, then 18). National quintiles: E01000001-2 in 2, E01000003 in 4, E01000004 in 5.
    """
    store = fixture_store_copy
    records = pd.DataFrame({"lsoa": ["E01000001"] * 12, "age": [30] * 7 + [92] * 5,
                            "ethnic_category": ["A"] * 12, "sex": ["1", "2"] * 6, "arrival_date": ["2024-06-01"] * 12})
    ingest_records(store, tmp_path, "sparse-hand", records)
    lad = Extent("lad", "E06000001")
    q = by_group(store, "sparse-hand", lad, "imd_quintile").set_index("group")
    assert q.index.tolist() == [2, 4, 5]
    assert q.loc[2, "population"] == 1450 + 1580 and q.loc[4, "population"] == 1390
    assert q.loc[5, "population"] == 1800
    assert q.loc[2, "crude_rate"] == pytest.approx(12 / 3030 * 100_000, rel=REL)  # 396.04, was 13,333
    assert q.loc[4, "crude_rate"] == 0 and q.loc[5, "crude_rate"] == 0
    # DSR of quintile 2: band 30-34 has 5 * (15 + 17) = 160 residents, band 90+ 15 + 17 = 32
    assert q.loc[2, "dsr"] == pytest.approx((6500 * 7 / 160 + 1000 * 5 / 32) / 100_000 * 100_000, rel=REL)  # 440.625
    wards = by_group(store, "sparse-hand", lad, "ward24cd").set_index("group")
    assert wards.loc["E05000001", "crude_rate"] == pytest.approx(12 / 3030 * 100_000, rel=REL)
    assert wards.loc["E05000002", "population"] == 1390 + 1800 and wards.loc["E05000002", "crude_rate"] == 0
    # ethnic groups: Census 2021 residents, White 60% of 1,500 + 1,600 + 1,400 + 1,700
    eth = by_group(store, "sparse-hand", lad, "ethnic_group").set_index("group")
    assert eth.loc["white", "population"] == pytest.approx(0.6 * 6200)
    assert eth.loc["white", "crude_rate"] == pytest.approx(12 / 3720 * 100_000, rel=REL)
    assert eth.loc["asian", "population"] == pytest.approx(0.2 * 6200) and eth.loc["asian", "crude_rate"] == 0
    # the map's rate per LSOA: the LSOAs without events are 0 over their whole population
    values = analysis.indicator_values(store, "sparse-hand", lad).set_index("lsoa21cd")
    assert values.loc["E01000001", "value"] == pytest.approx(12 / 1450 * 100_000, rel=REL)  # per 100,000 per year
    assert (values.loc[["E01000002", "E01000003", "E01000004"], "value"] == 0).all()


# --- defect 1: sparse and dense synthetic data against an independent recomputation ------------

def random_records(codes, n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "lsoa": rng.choice(codes, n),
        "age": rng.integers(0, 100, n),
        "ethnic_category": rng.choice(["A", "H", "M", "N", "S", "Z", "D"], n),
        "sex": rng.choice(["1", "2", "9"], n),
        "arrival_date": ["2024-06-01"] * n,
    })


ETHNIC_OF_CODE = {"A": "white", "H": "asian", "M": "black", "N": "black", "S": "other", "Z": None, "D": "mixed"}


def esp_band(age):
    return np.minimum(np.asarray(age) // 5, 18)


def independent(store, extent_filters, records, grouping, per=100_000):
    """By-group counts, populations, crude rates and DSRs from the raw inputs, in plain pandas."""
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "imd_quintile", "ward24cd", "lad24cd"], **extent_filters)
    pop = store.population_by_age(**extent_filters).set_index("lsoa21cd")
    records = records[records["lsoa"].isin(set(lsoas["lsoa21cd"]))]
    group_of = lsoas.set_index("lsoa21cd")[grouping]
    single_years = [f"age_{a}" for a in range(90)] + ["age_90_plus"]
    pop_bands = pd.DataFrame({b: pop[single_years[5 * b:5 * b + 5] if b < 18 else single_years[90:]].sum(axis=1)
                              for b in range(19)})
    weights = np.array(list(ESP2013_PUBLISHED.values()), dtype=float)
    out = {}
    for group, members in group_of.groupby(group_of):
        codes = members.index
        mine = records[records["lsoa"].isin(set(codes))]
        population = float(pop.loc[pop.index.isin(codes), "population_mid2020"].sum())
        events = np.bincount(esp_band(mine["age"]), minlength=19).astype(float)
        band_pop = pop_bands.loc[pop_bands.index.isin(codes)].sum(axis=0).to_numpy(float)
        use = band_pop > 0
        dsr = (weights[use] * events[use] / band_pop[use]).sum() / weights[use].sum() * per
        out[group] = {"count": float(len(mine)), "population": population,
                      "crude_rate": len(mine) / population * per, "dsr": dsr if len(mine) >= 10 else np.nan}
    return pd.DataFrame(out).T


def independent_ethnic(store, extent_filters, records, per=100_000):
    cols = [f"ethnic_{g}_residents" for g in ("asian", "black", "mixed", "white", "other")]
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", *cols], **extent_filters)
    records = records[records["lsoa"].isin(set(lsoas["lsoa21cd"]))]
    groups = records["ethnic_category"].map(ETHNIC_OF_CODE)
    out = {}
    for g in ("asian", "black", "mixed", "white", "other"):
        population = float(lsoas[f"ethnic_{g}_residents"].sum())
        count = float((groups == g).sum())
        out[g] = {"count": count, "population": population, "crude_rate": count / population * per}
    return pd.DataFrame(out).T


def sii_point(population, value):
    """PHE's SII point value, independently: population-weighted least squares of the value on
    the midpoint of each quintile's cumulative population share; positive = most deprived worse
    (for a measure where higher is worse)."""
    population = np.asarray(population, float)
    share = population / population.sum()
    x = np.cumsum(share) - share / 2
    slope, _ = np.polyfit(x, np.asarray(value, float), 1, w=np.sqrt(population))
    return -slope


@pytest.mark.parametrize("n, seed", [(15, 1), (40, 2), (6000, 3)], ids=["sparse-15", "sparse-40", "dense-6000"])
def test_by_group_agrees_with_an_independent_recomputation(fixture_store_copy, tmp_path, n, seed):
    store = fixture_store_copy
    codes = [f"E0100000{i}" for i in range(1, 9)]
    # sparse: most LSOA x age band x ethnic group cells are empty
    records = random_records(codes[:3] if n < 100 else codes, n, seed)
    name = f"syn-{n}-{seed}"
    ingest_records(store, tmp_path, name, records)
    for extent, filters in ((Extent(), {}), (Extent("icb", "E54000001"), {"icb": "E54000001"})):
        for grouping in ("imd_quintile", "ward24cd", "lad24cd"):
            got = by_group(store, name, extent, grouping).set_index("group")
            want = independent(store, filters, records, grouping)
            assert sorted(got.index) == sorted(want.index), grouping
            for column in ("count", "population", "crude_rate"):
                np.testing.assert_allclose(got[column].astype(float), want.loc[got.index, column].astype(float),
                                           rtol=REL, err_msg=f"{grouping} {column}")
            np.testing.assert_allclose(got["dsr"].astype(float), want.loc[got.index, "dsr"].astype(float),
                                       rtol=REL, err_msg=f"{grouping} dsr")
        eth = by_group(store, name, extent, "ethnic_group").set_index("group")
        want = independent_ethnic(store, filters, records)
        for g in want.index:
            for column in ("count", "population", "crude_rate"):
                assert eth.loc[g, column] == pytest.approx(want.loc[g, column], rel=REL), (g, column)
        inside = records["lsoa"].isin(set(store.lsoas(geometry=False, columns=["lsoa21cd"], **filters)["lsoa21cd"]))
        unknown = (records.loc[inside, "ethnic_category"] == "Z").sum()
        assert "unknown" not in eth.index
        assert eth.attrs.get("events_without_denominator", {}).get("unknown", 0) == unknown
    whole = by_group(store, name, Extent(), "imd_quintile")
    if len(whole) == 5:
        of = whole.attrs["sii"]["of"]
        assert whole.attrs["sii"]["sii"] == pytest.approx(sii_point(whole["population"], whole[of]), rel=REL)


def test_sii_agrees_on_the_quintiles_of_dense_data(fixture_store_copy, tmp_path):
    store = fixture_store_copy
    records = random_records([f"E0100000{i}" for i in range(1, 9)], 3000, 11)
    ingest_records(store, tmp_path, "sii-dense", records)
    got = by_group(store, "sii-dense", Extent(), "imd_quintile")
    want = independent(store, {}, records, "imd_quintile")
    assert len(got) == 5 and got.attrs["sii"]["of"] == "dsr"
    assert got.attrs["sii"]["sii"] == pytest.approx(sii_point(want["population"], want["dsr"]), rel=REL)


def test_map_rates_per_lsoa_use_every_lsoa(fixture_store_copy, tmp_path):
    store = fixture_store_copy
    records = random_records(["E01000001", "E01000005"], 30, 5)
    ingest_records(store, tmp_path, "map-sparse", records)
    values = analysis.indicator_values(store, "map-sparse", Extent()).set_index("lsoa21cd")
    pop = store.population_by_age().set_index("lsoa21cd")["population_mid2020"]
    counts = records["lsoa"].value_counts().reindex(values.index, fill_value=0)
    np.testing.assert_allclose(values["value"], counts / pop.reindex(values.index) * 100_000, rtol=REL)


# --- the same on the real England store: the reproduction -------------------------------

def test_reproduction_on_real_data(england_store, tmp_path):
    """`gapmap demo-data --icb QHG --rows 3000 --seed 3`, by quintile, ward and ethnic group:
    every rate equals the independent recomputation (the issue found 2.5-4.6 times too high)."""
    from geo.ingest import synthetic

    store = england_store
    path = tmp_path / "s.csv"
    table, meta = synthetic.generate(store, "E54000024", 3000, seed=3)
    synthetic.write(table, meta, path)
    ingest(path, IngestOptions(name="repro", by=("age_band", "sex", "ethnic_group", "period"),
                               disclosure=NO_DISCLOSURE), store)
    frame = pd.read_csv(path, dtype=str)
    records = pd.DataFrame({"lsoa": frame["Der_Postcode_LSOA_2021_Code"], "age": frame["Age_At_Arrival"].astype(int),
                            "ethnic_category": frame["Ethnic_Category"].str[:1]})
    icb = Extent("icb", "E54000024")
    for grouping in ("imd_quintile", "ward24cd"):
        got = by_group(store, "repro", icb, grouping).set_index("group")
        want = independent(store, {"icb": "E54000024"}, records, grouping)
        for column in ("count", "population", "crude_rate", "dsr"):
            np.testing.assert_allclose(got[column].astype(float), want.loc[got.index, column].astype(float),
                                       rtol=REL, err_msg=f"{grouping} {column}")
    quintiles = by_group(store, "repro", icb, "imd_quintile")
    assert quintiles["crude_rate"].iloc[0] > quintiles["crude_rate"].iloc[4]  # the gradient the data holds
    want = independent(store, {"icb": "E54000024"}, records, "imd_quintile")
    assert quintiles.attrs["sii"]["sii"] == pytest.approx(sii_point(want["population"], want["dsr"]), rel=REL)


def test_the_full_grid_is_bounded(fixture_store_copy, tmp_path, monkeypatch):
    from geo.store import datasets

    store = fixture_store_copy
    ingest_records(store, tmp_path, "grid", random_records([f"E0100000{i}" for i in range(1, 9)], 50, 9))
    dataset = datasets.DatasetStore(store).get("grid")
    full = datasets.rates(dataset, store)  # every breakdown: 8 LSOAs x 19 bands x 3 sexes x 6 groups x 1
    assert len(full) == 8 * 19 * 3 * 6 and full["count"].sum() == 50
    monkeypatch.setattr(datasets, "MAX_GRID_ROWS", 1000)
    with pytest.raises(datasets.DatasetError, match="keep fewer breakdowns"):
        datasets.rates(dataset, store)


def test_cells_of_an_age_cut_indicator_have_only_its_bands_and_count_the_events_left_out(fixture_store_copy,
                                                                                         tmp_path):
    """Under-18s of a file holding every age: the grid gets rows only for the bands that reach into
    0-17 (0-4 .. 15-19), every LSOA of the extent has each of them (zeros too), and the note counts
    the events of the extent in bands wholly outside the ages (20+), counted here from the raw records."""
    from geo.sources.indicator_definitions import IndicatorDefinition
    from geo.views.group_statistics import cells

    store = fixture_store_copy
    codes = store.lsoas(geometry=False, columns=["lsoa21cd"])["lsoa21cd"].tolist()
    records = random_records(codes[:3], 40, 11)  # sparse: most LSOA x band cells are zero
    ingest_records(store, tmp_path, "under18-cut", records)
    dataset = map_table.load_dataset(map_table.pinned(store), "under18-cut")
    definition = IndicatorDefinition(age_lo=0, age_hi=17)
    table, notes = cells(store, dataset, Extent(), definition, ("age_band",))
    assert sorted(set(zip(table["age_lo"], table["age_hi"]))) == [(0, 4), (5, 9), (10, 14), (15, 17)]
    assert len(table) == len(codes) * 4
    young = records[records["age"] <= 19]
    expected = young.groupby([young["lsoa"], np.minimum(young["age"] // 5 * 5, 15)]).size()
    got = table.set_index(["lsoa21cd", "age_lo"])["count"]
    assert got.sum() == len(young)
    for (lsoa, lo), n in expected.items():
        assert got.loc[(lsoa, lo)] == n
    outside = int((records["age"] >= 20).sum())
    assert f"{outside:g} events in age bands outside the indicator's ages 0-17 were left out" in notes


def test_cells_are_kept_per_dataset_version_and_each_caller_gets_its_own_copy(fixture_store_copy, tmp_path):
    from geo.sources.indicator_definitions import IndicatorDefinition
    from geo.views.group_statistics import cells

    store = map_table.pinned(fixture_store_copy)
    codes = store.lsoas(geometry=False, columns=["lsoa21cd"])["lsoa21cd"].tolist()
    first = random_records(codes[:2], 12, 3)
    ingest_records(fixture_store_copy, tmp_path, "cells-kept", first)
    dataset = map_table.load_dataset(store, "cells-kept")
    table, _ = cells(store, dataset, Extent(), IndicatorDefinition(), ("age_band",))
    table["count"] = -1.0  # a caller changing its copy
    again, _ = cells(store, dataset, Extent(), IndicatorDefinition(), ("age_band",))
    assert again["count"].sum() == len(first)
    second = random_records(codes[:2], 30, 4)
    ingest_records(fixture_store_copy, tmp_path, "cells-kept", second)  # a new version of the same name
    newer = map_table.load_dataset(map_table.pinned(fixture_store_copy), "cells-kept")
    assert newer.version != dataset.version
    table, _ = cells(map_table.pinned(fixture_store_copy), newer, Extent(), IndicatorDefinition(), ("age_band",))
    assert table["count"].sum() == len(second)

"""Indicators as the NHS defines them (issue 18): the population at risk (ages, sex), the measure
type, the period and the multiplier, checked against independent recomputations from the raw
records written here and the raw single-year populations (never from Gapmap's own cells).

Formula checks switch the perturbation off and lower the server's floor (``exact`` fixture) so
that numbers compare to 1e-9; the published path is checked with the perturbation on.
"""
import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.errors import InvalidValue
from geo.ingest.pipeline import IngestOptions, ingest
from geo.sources.indicator_definitions import IndicatorDefinition, parse_ages, shipped
from geo.views import map_table
from geo.views.analysis import Extent

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nhs_statement_indicators.csv"
Z = 1.959963984540054
ESP = [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500,
       1000]  # European Standard Population 2013, as published


@pytest.fixture
def exact(exact_counts):
    yield


def ages(store, lo, hi, **filters) -> pd.Series:
    """Residents of ages lo..hi per LSOA from the store's single-year population (ONS mid-2020)."""
    pop = store.population_by_age(**filters).set_index("lsoa21cd")
    columns = [c for c in pop.columns if c.startswith("age_")]
    return pop[columns[lo:min(hi, 90) + 1]].astype(float).sum(axis=1)


def ingest_records(store, tmp_path, name, records: pd.DataFrame, **options):
    path = tmp_path / f"{name}.csv"
    records.to_csv(path, index=False)
    return ingest(path, IngestOptions(name=name, by=("age_band", "sex", "ethnic_group", "period"), measure="test",
                                      **options), store)


def sparse_children(seed=4, n=60):
    """Sparse records: most LSOA x age cells empty; ages 0-17 over three financial years, and a few
    adults that an indicator of under 18s must leave out."""
    rng = np.random.default_rng(seed)
    codes = ["E01000001", "E01000002", "E01000005"]
    dates = rng.choice(["2021-06-01", "2022-06-01", "2023-06-01"], n)
    frame = pd.DataFrame({"lsoa": rng.choice(codes, n), "age": rng.integers(0, 18, n),
                          "ethnic_category": rng.choice(["A", "H", "R", "Z"], n), "sex": rng.choice(["1", "2"], n),
                          "arrival_date": dates})
    adults = pd.DataFrame({"lsoa": ["E01000001"] * 4, "age": [30, 40, 50, 60], "ethnic_category": ["A"] * 4,
                           "sex": ["1"] * 4, "arrival_date": ["2022-06-01"] * 4})
    return pd.concat([frame, adults], ignore_index=True)


# ---- the shipped definitions ---------------------------------------------------------------------
def test_every_statement_indicator_has_a_definition_with_its_source():
    if REFERENCE.exists():
        with REFERENCE.open(newline="", encoding="utf-8") as handle:
            codes = [row["metric"] for row in csv.DictReader(handle)]
    else:
        codes = list(shipped())
    defs = shipped()
    assert sorted(defs) == sorted(codes) and len(defs) == 23
    assert all("s13SA" in d.source for d in defs.values())
    uec, ora, mat, res, cvd = (defs[c] for c in ("UEC01", "ORA01", "MAT01", "RES02", "CVD01"))
    assert (uec.age_lo, uec.age_hi, uec.unit) == (0, 17, "per 100,000 residents aged 0-17 per year")
    assert (ora.age_lo, ora.age_hi) == (0, 10)
    assert mat.measure_type == "proportion" and mat.denominator == "births" and mat.unit.startswith("% of births")
    assert res.measure_type == "proportion" and res.unit == "% of people eligible for flu vaccination"
    assert cvd.standardisation == "age-sex" and cvd.headline == "age-sex standardised rate"
    practice = {c for c, d in defs.items() if d.level == "practice"}
    assert {"CVD03", "CVD04", "CVD05", "DIA02", "LDA01", "MEN01"} <= practice


@pytest.mark.parametrize("text, expected", [("0-17", (0, 17)), ("18+", (18, None)), ("0 to 10", (0, 10)),
                                            ("all", (0, None)), ("65", (65, 65))])
def test_ages_are_read_as_written(text, expected):
    assert parse_ages(text) == expected


@pytest.mark.parametrize("fields, words", [
    ({"measure_type": "share"}, "measure type 'share': choose rate, proportion, ratio, count"),
    ({"measure_type": "proportion"}, "a proportion needs a denominator the data supplies"),
    ({"age_lo": 18, "age_hi": 10}, "ages 18-10: write them as 0-17"),
    ({"multiplier": 7}, "multiplier 7: choose 1, 100 (%)"),
    ({"sex": "female", "standardisation": "age-sex"}, "an indicator of females only is standardised by age"),
])
def test_a_definition_that_cannot_be_applied_is_refused(fields, words):
    with pytest.raises(InvalidValue, match=re_escape(words)):
        IndicatorDefinition(**fields)
    with pytest.raises(InvalidValue, match="write them as 0-17"):
        parse_ages("under eighteen")


def re_escape(text):
    import re

    return re.escape(text)


# ---- rates per year over the definition's ages ------------------------------------------------
def test_a_child_indicator_divides_by_children_per_year(fixture_store, tmp_path, exact):
    """UEC01 over sparse records: residents aged 0-17, three financial years, adults left out."""
    store = fixture_store
    records = sparse_children()
    result = ingest_records(store, tmp_path, "def-uec", records, nhs_indicator="UEC01")
    reasons = set(result.rows_not_used["reason"])
    assert {f"age {a} is outside the indicator's ages 0-17" for a in (30, 40, 50, 60)} <= reasons
    try:
        icb = Extent("icb", "E54000001")
        quintile = store.lsoas(icb="E54000001", geometry=False, columns=["lsoa21cd", "imd_quintile"]) \
            .set_index("lsoa21cd")["imd_quintile"]
        children = ages(store, 0, 17, icb="E54000001")
        kids = records[records["age"] < 18]
        got = map_table.group_table(store, "def-uec", icb, "imd_quintile").set_index("group")
        assert got.attrs["unit"] == "per 100,000 residents aged 0-17 per year" and got.attrs["years"] == 3
        for q, members in quintile.groupby(quintile):
            codes = members.index
            events = float(kids["lsoa"].isin(codes).sum())
            population = float(children.loc[codes].sum())
            assert got.loc[q, "count"] == events and got.loc[q, "population"] == pytest.approx(population)
            assert got.loc[q, "crude_rate"] == pytest.approx(events / (population * 3) * 100_000, rel=1e-9)
        total = map_table.group_table(store, "def-uec", icb, "extent").iloc[0]
        assert total["crude_rate"] == pytest.approx(len(kids[kids["lsoa"].isin(children.index)])
                                                    / (children.sum() * 3) * 1e5, rel=1e-9)
        # the map's LSOA values: the same definition (children, per year)
        frame = map_table.map_table(store, "def-uec", icb).frame.set_index("lsoa21cd")
        for code in children.index:
            events = float((kids["lsoa"] == code).sum())
            assert frame.loc[code, "value"] == pytest.approx(events / (children[code] * 3) * 1e5, rel=1e-9)
        # age bands are cut at 17: the last band holds ages 15-17 and their residents only
        bands = map_table.group_table(store, "def-uec", icb, "age_band").set_index("group")
        assert list(bands.index) == ["0-4", "5-9", "10-14", "15-17"]
        assert bands.loc["15-17", "population"] == pytest.approx(ages(store, 15, 17, icb="E54000001").sum())
        # Chinese (R) is counted as Asian, as the Census denominator counts them
        eth = map_table.group_table(store, "def-uec", icb, "ethnic_group").set_index("group")
        inside = kids[kids["lsoa"].isin(children.index)]
        assert eth.loc["asian", "count"] == float(inside["ethnic_category"].isin(["H", "R"]).sum())
    finally:
        from geo.store.datasets import DatasetStore

        DatasetStore(store).remove("def-uec")


def test_age_sex_standardised_rates_use_the_population_by_sex(fixture_store, tmp_path, exact):
    """CVD01: the DSR over ESP bands within each sex, from the raw records and the raw
    population by sex, worked here; without a population by sex, by age alone, saying so."""
    store = fixture_store
    rng = np.random.default_rng(8)
    n = 400
    records = pd.DataFrame({"lsoa": rng.choice(["E01000001", "E01000002", "E01000003", "E01000004",
                                                 "E01000005", "E01000006"], n),
                            "age": rng.integers(40, 95, n), "ethnic_category": "A",
                            "sex": rng.choice(["1", "2"], n), "arrival_date": "2023-06-01"})
    ingest_records(store, tmp_path, "def-cvd", records, nhs_indicator="CVD01")
    try:
        icb = Extent("icb", "E54000001")
        by_sex = store.population_by_sex_age(icb="E54000001")
        assert by_sex is not None
        got = map_table.group_table(store, "def-cvd", icb, "extent").iloc[0]
        weights, rates = [], []
        for sex, code in (("male", "1"), ("female", "2")):
            pop = by_sex[by_sex["sex"] == sex]
            columns = [c for c in pop.columns if c.startswith("age_")]
            mine = records[records["sex"] == code]
            for band in range(19):
                lo, hi = 5 * band, (5 * band + 4 if band < 18 else 90)
                people = pop[columns[lo:hi + 1]].to_numpy(float).sum()
                events = float(((mine["age"] >= lo) & ((mine["age"] <= hi) | (band == 18))).sum())
                if people > 0:
                    weights.append(ESP[band])
                    rates.append(events / people)
        expected = float(np.dot(weights, rates) / np.sum(weights) * 100_000)
        assert got["dsr"] == pytest.approx(expected, rel=1e-9)
        assert got.attrs if hasattr(got, "attrs") else True
        table = map_table.group_table(store, "def-cvd", icb, "extent")
        assert table.attrs["headline"] == "age-sex standardised rate"
        map_table.clear_caches()
        original = type(store).population_by_sex_age
        try:
            type(store).population_by_sex_age = lambda self, **kw: None
            table = map_table.group_table(store, "def-cvd", icb, "extent")
        finally:
            type(store).population_by_sex_age = original
        assert table.attrs["headline"] == "age-standardised rate"
        assert any("Standardised by age only: this build holds no population by sex" in n
                   for n in table.attrs["notes"])
    finally:
        from geo.store.datasets import DatasetStore

        DatasetStore(store).remove("def-cvd")


# ---- proportions --------------------------------------------------------------------------------
def wilson(x, n):
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def test_a_proportion_is_a_percentage_with_wilson_limits(fixture_store, tmp_path, exact):
    """RES02 (flu uptake): vaccinated over eligible, in %, Wilson limits, the logit RII; sparse:
    two LSOAs have nobody vaccinated."""
    store = fixture_store
    rows = {"E01000001": (0, 300), "E01000002": (210, 310), "E01000003": (250, 320), "E01000004": (0, 280),
            "E01000005": (150, 260), "E01000006": (190, 240), "E01000007": (230, 300), "E01000008": (220, 290)}
    path = tmp_path / "flu.csv"
    path.write_text("lsoa,vaccinated,eligible\n" + "".join(f"{c},{x},{n}\n" for c, (x, n) in rows.items()))
    ingest(path, IngestOptions(name="def-flu", shape="aggregated", nhs_indicator="RES02",
                               columns={"count": "vaccinated", "denominator": "eligible"}), store)
    try:
        table = map_table.group_table(store, "def-flu", Extent(), "imd_quintile").set_index("group")
        assert table.attrs["unit"] == "% of people eligible for flu vaccination"
        quintile = store.lsoas(geometry=False, columns=["lsoa21cd", "imd_quintile"]).set_index("lsoa21cd")
        for q, members in quintile.groupby("imd_quintile"):
            x = sum(rows[c][0] for c in members.index)
            n = sum(rows[c][1] for c in members.index)
            lo, hi = wilson(x, n)
            assert table.loc[q, "proportion"] == pytest.approx(x / n * 100, rel=1e-9)
            assert table.loc[q, "proportion_lower"] == pytest.approx(lo * 100, rel=1e-9)
            assert table.loc[q, "proportion_upper"] == pytest.approx(hi * 100, rel=1e-9)
            assert "crude_rate" not in table  # a proportion is not a Poisson rate
        sii = table.attrs["sii"]
        assert sii["rii_lower_95"] <= sii["rii"] <= sii["rii_upper_95"] and sii["sii_lower_95"] <= sii["sii_upper_95"]
    finally:
        from geo.store.datasets import DatasetStore

        DatasetStore(store).remove("def-flu")


def test_the_proportion_funnel_is_phe_s():
    """PHE's sigma_adjustment (PHEindicatormethods phe_funnels): the limits at a denominator n are
    the proportions whose own Wilson interval just reaches the average: the lower limit's upper
    Wilson bound, and the upper limit's lower Wilson bound, equal the average (checked with
    Wilson's formula written here)."""
    from geo.rates.funnel import proportion_limits, proportion_significance, sigma_adjustment

    average = 0.7
    for n in (20, 137, 1000, 25_000):
        low = sigma_adjustment(0.975, n, average, "low", 1)
        high = sigma_adjustment(0.975, n, average, "high", 1)
        assert wilson(low * n, n)[1] == pytest.approx(average, rel=1e-9)
        assert wilson(high * n, n)[0] == pytest.approx(average, rel=1e-9)
    limits = proportion_limits(100, 1000, average, 100)
    assert len(limits) == 100 and limits["population"].iloc[0] == 1 and limits["baseline"].iloc[0] == 70
    assert (limits["lower_998"] <= limits["lower_95"]).all() and (limits["upper_95"] <= limits["upper_998"]).all()
    assert proportion_significance([900, 700, 2, None], [1000, 1000, 10, 5], average) == \
        ["High (99.8%)", "Not significant", "Low (99.8%)", None]


def test_the_rii_of_rates_is_log_linear_with_limits_in_order():
    """Issue 18: ORA01's RII printed -13.0 (95% CI -32.2 to -8.8) from the linear fit crossing 0.
    The log-linear fit keeps the RII and its limits above 0 and in order."""
    from geo.views.group_statistics import inequality

    table = pd.DataFrame({"group": [1, 2, 3, 4, 5], "population": [9000.0, 9500, 10_000, 9800, 9900],
                          "value": [420.0, 260, 160, 60, 15], "lower": [380.0, 229, 136, 46, 8.4],
                          "upper": [462.0, 294, 187, 77, 24.7]})
    table.attrs["value_column"] = "crude_rate"
    out = inequality(table, IndicatorDefinition(), True)["sii"]
    assert out["rii_method"] == "log-linear fit (PHE)"
    assert 0 < out["rii_lower_95"] <= out["rii"] <= out["rii_upper_95"]
    assert out["sii_lower_95"] <= out["sii"] <= out["sii_upper_95"] and out["sii"] > 0


# ---- GP practice data ---------------------------------------------------------------------------
def test_practice_indicators_by_practice_quintile_and_as_points(fixture_store, tmp_path):
    """CVD03 per practice: by the IMD quintile of each practice's registered patients (sums over
    the practices, published), and on the map as points coloured by the practice's published
    value; a practice ODS cannot place has no point and is counted."""
    from app.map_layers import choropleth_map, page_data
    from geo.store.datasets import DatasetStore
    from tests.test_ingest import registrations

    path = tmp_path / "cvd.csv"
    path.write_text("practice_code,numerator,denominator\nA00001,60,100\nA00002,45,90\nA00009,30,40\n")
    ingest(path, IngestOptions(name="def-cvd03", nhs_indicator="CVD03", registrations=registrations(tmp_path)),
           fixture_store)
    try:
        practices = DatasetStore(fixture_store).get("def-cvd03").practices().set_index("practice_code")
        table = map_table.group_table(fixture_store, "def-cvd03", Extent(), "practice_imd_quintile")
        assert table.attrs["grouping"] == "IMD 2025 quintile of the GP practice's registered patients"
        for row in table.itertuples():
            mine = practices[practices["imd_quintile"] == row.group]
            raw = mine["numerator"].sum()
            assert row.count % 5 == 0 and abs(row.count - raw) <= 30 or (raw <= 37 and row.count != row.count)
            if row.value == row.value:
                assert row.value == pytest.approx(row.count / row.population * 100)
        points = map_table.practice_points(fixture_store, "def-cvd03", Extent())
        assert points.attrs["not_located"] == 1 and "A00009" not in set(points["practice_code"])
        by_code = points.set_index("practice_code")
        assert by_code.loc["A00001", "value"] == pytest.approx(60 / 100 * 100)  # 60 and 100: multiples of 5
        assert by_code.loc["A00002", "value"] == pytest.approx(45 / 90 * 100)
        m = choropleth_map(fixture_store, "def-cvd03", Extent())
        group = next(g for g in page_data(m)["points"] if g["name"] == "GP practices: this indicator")
        assert group["row_colours"] and len(group["rows"]) == 2
        assert any("% of patients aged 18+ with hypertension" in r[2] for r in group["rows"])
        assert map_table.practice_points(fixture_store, "imd_score", Extent()) is None
    finally:
        DatasetStore(fixture_store).remove("def-cvd03")


@pytest.mark.parametrize("dates, days", [(("2024-05-01", "2024-05-01"), 1), (("2024-05-01", "2024-05-31"), 31),
                                         (("2023-04-01", "2025-03-31"), 731)])
def test_ingest_and_views_count_the_same_years_for_any_span(fixture_store, tmp_path, dates, days):
    """One rule for the years a rate is divided by: what ingest records is what every view reads, and a
    dataset recorded without it (an older ingest) gets the same from its data; a span under a year is
    annualised (and says so), never rounded to 0 or to a whole year."""
    from geo.sources.indicator_definitions import definition_of, years_of_data
    from geo.store.datasets import DatasetStore

    records = pd.DataFrame({"lsoa": ["E01000001", "E01000002"], "date": list(dates)})
    name = f"span-{days}"
    path = tmp_path / f"{name}.csv"
    records.to_csv(path, index=False)
    result = ingest(path, IngestOptions(name=name, measure="test"), fixture_store)
    try:
        assert result.meta["years_of_data"] == days / 365.25 > 0
        dataset = DatasetStore(fixture_store).get(name)
        counts = dataset.counts() if callable(getattr(dataset, "counts", None)) else dataset.counts
        definition = definition_of(dataset.meta, False)
        recorded = years_of_data(dataset.meta, counts, definition)
        older = years_of_data({k: v for k, v in dataset.meta.items() if k != "years_of_data"}, counts, definition)
        assert recorded[0] == older[0] == result.meta["years_of_data"]
        assert ("annualised" in older[1]) == (days < 365)
    finally:
        DatasetStore(fixture_store).remove(name)

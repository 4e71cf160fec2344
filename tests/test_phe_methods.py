"""Rates, intervals, DSR, ISR and SII against PHE's own test tables (../shared/reference/phe)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.rates.confidence_intervals import byars_limits, crude_rate, poisson_limits, proportion
from geo.rates.inequality import gap_and_ratio, gapmap_sii, sii
from geo.rates.standardised_rates import dsr, dsr_many, dsr_non_independent, isr

PHE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "phe"


def sheet(workbook, name):
    path = PHE / workbook
    if not path.exists():
        pytest.skip(f"PHE reference tables not here ({path})")
    return pd.read_excel(path, sheet_name=name)


def test_byars_and_wilson_table():
    """testdata_Byars_Wilson.xlsx, sheet testdata_B_W, rows 1-12 (row 13 checks an R error path)."""
    t = sheet("testdata_Byars_Wilson.xlsx", "testdata_B_W").iloc[:12]
    for row in t.itertuples():
        conf = 0.95 if row.confidence == "95%" else 0.998
        if row.method == "Byars":
            lo, hi = byars_limits(np.array([row.x]), conf)
        else:
            out = proportion(np.array([row.x]), np.array([row.n]), confidence=conf)
            lo, hi = out["lower"], out["upper"]
        assert lo[0] == pytest.approx(row.lowercl, rel=1e-6) and hi[0] == pytest.approx(row.uppercl, rel=1e-6)


@pytest.mark.parametrize("name", ["testdata_Rate", "testdata_Rate_g"])
def test_crude_rates(name):
    """testdata_Rate.xlsx: exact limits below 10 events, Byar's from 10; all rows with data."""
    t = sheet("testdata_Rate.xlsx", name).dropna(subset=["Numerator", "Denominator"])
    if name == "testdata_Rate":
        for conf, col in ((0.95, "95_0"), (0.998, "99_8")):
            out = crude_rate(t.Numerator, t.Denominator, t.multiplier.to_numpy(), conf)
            np.testing.assert_allclose(out["value"], t["value"], rtol=1e-9)
            np.testing.assert_allclose(out["lower"], t[f"lower{col}cl"], rtol=1e-7)
            np.testing.assert_allclose(out["upper"], t[f"upper{col}cl"], rtol=1e-7)
            assert (out["method"] == t["method"]).all()
    else:
        for row in t.itertuples():
            conf = float(str(row.confidence).rstrip("%")) / 100
            out = crude_rate([row.Numerator], [row.Denominator], row.multiplier, conf)
            assert out["lower"][0] == pytest.approx(row.lowercl, rel=1e-7)
            assert out["upper"][0] == pytest.approx(row.uppercl, rel=1e-7)


def test_proportions():
    """testdata_Proportion.xlsx, sheet testdata_Prop, the rows with a numerator and denominator."""
    t = sheet("testdata_Proportion.xlsx", "testdata_Prop").dropna(subset=["Numerator", "Denominator"])
    for conf, col in ((0.95, "95_0"), (0.998, "99_8")):
        out = proportion(t.Numerator, t.Denominator, t.multiplier.to_numpy(), conf)
        np.testing.assert_allclose(out["value"], t["value"], rtol=1e-9)
        np.testing.assert_allclose(out["lower"], t[f"lower{col}cl"], rtol=1e-6)
        np.testing.assert_allclose(out["upper"], t[f"upper{col}cl"], rtol=1e-6)


def test_dsr_against_phe():
    """testdata_DSR_ISR.xlsx: inputs testdata_multiarea, results testresults_DSR rows 1-3 and 5-7
    (per 10,000 and 100,000). Row 4 and 8 (the 1976 standard) carry 99.8% limits ten times too
    large in the reference table itself, so only their value and 95% limits are checked."""
    data = sheet("testdata_DSR_ISR.xlsx", "testdata_multiarea")
    results = sheet("testdata_DSR_ISR.xlsx", "testresults_DSR")
    for row in results.iloc[[0, 1, 2, 4, 5, 6]].itertuples():
        multiplier = 10_000 if "10000" in row.statistic and "100000" not in row.statistic else 100_000
        g = data[data.area == row.area]
        for conf, lo_col, hi_col in ((0.95, "lower95_0cl", "upper95_0cl"), (0.998, "lower99_8cl", "upper99_8cl")):
            out = dsr(g["count"], g["pop"], multiplier=multiplier, confidence=conf)
            if np.isnan(row.value):
                assert np.isnan(out["value"]) and out["total_count"] < 10
                continue
            assert out["value"] == pytest.approx(row.value, rel=1e-9)
            assert out["lower"] == pytest.approx(getattr(row, lo_col), rel=1e-7)
            assert out["upper"] == pytest.approx(getattr(row, hi_col), rel=1e-7)
    t1976 = sheet("testdata_DSR_ISR.xlsx", "testdata_1976")
    out = dsr(t1976["count"], t1976["pop"], standard=t1976["esp1976"], multiplier=10_000)
    assert out["value"] == pytest.approx(results.iloc[3].value, rel=1e-9)
    assert out["lower"] == pytest.approx(results.iloc[3].lower95_0cl, rel=1e-7)


@pytest.mark.parametrize("name", ["testdata_err1", "testdata_err3", "testdata_err4"])
def test_dsr_rejects_bad_inputs(name):
    """testdata_err1 (a negative count), err3 (a negative population), err4 (a negative weight)."""
    t = sheet("testdata_DSR_ISR.xlsx", name)
    with pytest.raises(ValueError):
        dsr(t["count"], t["pop"], standard=t["stdpop"])


def test_dsr_rejects_zero_population():
    """testdata_err2, Area1: a band with population 0."""
    t = sheet("testdata_DSR_ISR.xlsx", "testdata_err2")
    with pytest.raises(ValueError, match="population above 0"):
        dsr(t[t.area == "Area1"]["count"], t[t.area == "Area1"]["pop"])


def test_isr_against_phe():
    """testdata_DSR_ISR.xlsx: inputs testdata_multiarea_isr, results testresults_ISR rows 1-9."""
    data = sheet("testdata_DSR_ISR.xlsx", "testdata_multiarea_isr")
    results = sheet("testdata_DSR_ISR.xlsx", "testresults_ISR").iloc[:9]
    for row in results.itertuples():
        g = data[data.area == row.area]
        is_rate = "rate" in row.statistic
        multiplier = 100_000 if "100000" in row.statistic else 1_000 if "1000" in row.statistic else 1
        for conf, lo_col, hi_col in ((0.95, "lower95_0cl", "upper95_0cl"), (0.998, "lower99_8cl", "upper99_8cl")):
            out = isr(g["count"], g["pop"], g["refcount"], g["refpop"], multiplier=multiplier, confidence=conf,
                      as_rate=is_rate)
            assert out["expected"] == pytest.approx(row.expected, rel=1e-9)
            assert out["value"] == pytest.approx(row.value, rel=1e-9)
            assert out["lower"] == pytest.approx(getattr(row, lo_col), rel=1e-7)
            assert out["upper"] == pytest.approx(getattr(row, hi_col), rel=1e-7)
            assert out["method"] == row.method


SII_CASES = [  # TestDescription, options
    ("default (e.g. life expectancy) - default parameters", {}),
    ("default - testing 99% confidence", {"confidence": (0.99,)}),
    ("rate (e.g. infant mortality) - default parameters", {}),
    ("proportion (e.g. child obesity) - default parameters", {}),
    ("proportion - testing multiplier (x 100)", {"multiplier": 100}),
    ("proportion - testing multiplier (x -100)", {"multiplier": -100}),
    ("rate (e.g. infant mortality) - log transform with intercept", {"transform": True}),
    ("proportion (e.g. child obesity) - logit transform with intercept", {"transform": True}),
    ("proportion (e.g. child obesity) - logit transform with negative multiplier", {"transform": True, "multiplier": -1}),
    ("default - testing quintiles", {}),
]


@pytest.mark.parametrize("description, options", SII_CASES)
def test_sii_against_phe(description, options):
    """testdata_SII.xlsx: point values to 1e-6; the simulated limits (100,000 draws in both) to
    within 1.5% of the interval's width, since the draws differ."""
    t = sheet("testdata_SII.xlsx", "testdata_SII")
    rows = t[t.TestDescription == description]
    assert len(rows)
    options = dict(options)
    conf = options.pop("confidence", (0.95,))
    for area, g in rows.groupby("Area"):
        out = sii(g.Population, g.Value, int(g.ValueType.iloc[0]), g.LowerCL, g.UpperCL, confidence=conf,
                  repetitions=100_000, **options)
        want = g.iloc[0]
        assert out["sii"] == pytest.approx(want.sii, rel=1e-6, abs=1e-9)
        assert out["rii"] == pytest.approx(want.rii, rel=1e-6)
        if np.isnan(want.sii_lowercl_1):
            continue
        key = f"{conf[0] * 100:g}"
        width = want.sii_uppercl_1 - want.sii_lowercl_1
        assert out[f"sii_lower_{key}"] == pytest.approx(want.sii_lowercl_1, abs=0.015 * width)
        assert out[f"sii_upper_{key}"] == pytest.approx(want.sii_uppercl_1, abs=0.015 * width)
        rii_width = want.rii_uppercl_1 - want.rii_lowercl_1
        assert out[f"rii_lower_{key}"] == pytest.approx(want.rii_lowercl_1, abs=0.02 * rii_width)
        assert out[f"rii_upper_{key}"] == pytest.approx(want.rii_uppercl_1, abs=0.02 * rii_width)


@pytest.mark.parametrize("description", ["error handling - negative populations",
                                         "error handling - invalid proportion in CLs"])
def test_sii_rejects_bad_inputs(description):
    t = sheet("testdata_SII.xlsx", "testdata_SII")
    g = t[(t.TestDescription == description) & (t.Area == "area1")]
    value_type = 2 if "proportion" in description else int(g.ValueType.iloc[0])
    with pytest.raises(ValueError):
        sii(g.Population, g.Value, value_type, g.LowerCL, g.UpperCL, repetitions=1000)


def test_gapmap_orientation_and_gaps():
    pop = [100, 100, 100, 100, 100]
    rate = [50.0, 40.0, 30.0, 20.0, 10.0]  # quintile 1 (most deprived) has the highest rate
    out = gapmap_sii(pop, rate, higher_is_worse=True, se=[1.0] * 5, repetitions=1000)
    assert out["sii"] > 0  # the most deprived are worse off
    life = [70.0, 72.0, 74.0, 76.0, 78.0]
    assert gapmap_sii(pop, life, higher_is_worse=False, se=[1.0] * 5, repetitions=1000)["sii"] > 0
    gap = gap_and_ratio(pd.Series(rate, index=[1, 2, 3, 4, 5]))
    assert gap["gap"] == 40 and gap["ratio"] == 5 and gap["most_deprived_worse"]


def test_dsr_for_non_independent_events_against_phe():
    """testdata_DSR_ISR.xlsx: inputs testdata_nonindepe (people with 1..4 events per age band),
    results testresults_DSR rows 9-12 (per 100,000, 95% and 99.8% limits)."""
    data = sheet("testdata_DSR_ISR.xlsx", "testdata_nonindepe")
    results = sheet("testdata_DSR_ISR.xlsx", "testresults_DSR")
    checked = 0
    for row in results[results.method.str.contains("non-independent")].itertuples():
        g = data[data.area == row.area]
        for conf, lo_col, hi_col in ((0.95, "lower95_0cl", "upper95_0cl"), (0.998, "lower99_8cl", "upper99_8cl")):
            out = dsr_non_independent(g[["f1", "f2", "f3", "f4"]].to_numpy(), g["pop"], confidence=conf)
            assert out["total_count"] == row.total_count
            if np.isnan(row.value):
                assert np.isnan(out["value"])
                continue
            assert out["value"] == pytest.approx(row.value, rel=1e-9)
            assert out["lower"] == pytest.approx(getattr(row, lo_col), rel=1e-7)
            assert out["upper"] == pytest.approx(getattr(row, hi_col), rel=1e-7)
            checked += 1
    assert checked == 6
    # everyone with one event: the ordinary DSR
    g = data[data.area == "testdata_nonind_big"]
    single = dsr_non_independent({1: g["count"]}, g["pop"])
    plain = dsr(g["count"], g["pop"])
    assert single["lower"] == pytest.approx(plain["lower"]) and single["upper"] == pytest.approx(plain["upper"])


def test_many_dsrs_at_once_against_phe():
    """dsr_many (by-group's vectorised DSR) on testdata_multiarea's areas at once: testresults_DSR
    rows 5-7 (per 100,000); and a band with no residents is left out of the standard."""
    data = sheet("testdata_DSR_ISR.xlsx", "testdata_multiarea")
    results = sheet("testdata_DSR_ISR.xlsx", "testresults_DSR").iloc[4:7]
    areas = results["area"].tolist()
    x = np.stack([data[data.area == a]["count"].to_numpy(float) for a in areas])
    n = np.stack([data[data.area == a]["pop"].to_numpy(float) for a in areas])
    out = dsr_many(x, n)
    np.testing.assert_allclose(out["value"], results["value"], rtol=1e-9)
    np.testing.assert_allclose(out["lower"], results["lower95_0cl"], rtol=1e-7)
    np.testing.assert_allclose(out["upper"], results["upper95_0cl"], rtol=1e-7)
    n2, x2 = n[:1].copy(), x[:1].copy()
    n2[0, 18], x2[0, 18] = 0, 0  # no one aged 90+: the other 18 bands and their weights
    from geo.ingest.codes import ESP2013
    want = dsr(x2[0, :18], n2[0, :18], standard=ESP2013[:18])
    got = dsr_many(x2, n2)
    assert got["value"][0] == pytest.approx(want["value"], rel=1e-12) and got["bands_left_out"][0] == 1
    x2[0, 18] = 1  # an event where no one lives: no DSR
    assert np.isnan(dsr_many(x2, n2)["value"][0])

"""The analysis entry points and `gapmap analyse`, on the fixture store."""
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo.views import analysis
from geo.cli import main
from geo.ingest.pipeline import IngestOptions, ingest
from tests.test_ingest import write


@pytest.fixture
def store_with_data(fixture_mirror, tmp_path):
    from geo.build.pipeline import build
    from geo.store.folder import Store

    store = Store(tmp_path / "store")
    build(store, mirror=fixture_mirror)
    rows = ["lsoa,age,ethnic_category,arrival_date"]
    rng = np.random.default_rng(0)
    for i, code in enumerate([f"E0100000{j}" for j in range(1, 9)]):
        for _ in range(20 + 10 * i):
            rows.append(f"{code},{rng.integers(0, 95)},{rng.choice(['A', 'H', 'M'])},2024-06-01")
    path = write(tmp_path / "r.csv", "\n".join(rows) + "\n")
    ingest(path, IngestOptions(name="ae", by=("age_band", "ethnic_group"), measure="A&E attendances"), store)
    return store


def test_indicator_values_for_columns_and_datasets(store_with_data):
    imd = analysis.indicator_values(store_with_data, "imd_score", analysis.Extent("lad", "E06000001"))
    assert imd["lsoa21cd"].tolist() == ["E01000001", "E01000002", "E01000003", "E01000004"]
    assert imd["value"].tolist() == [45.0, 30.0, 12.0, 8.0]
    ae = analysis.indicator_values(store_with_data, "ae", analysis.Extent())
    first = ae.iloc[0]
    # records of one day: the rate per year divides by the person-years of that day (annualised)
    assert first["person_years"] == pytest.approx(first["population"] / 365.25, rel=1e-5)
    assert first["count"] == 20 and first["value"] == pytest.approx(20 / first["person_years"] * 100_000)
    assert first["lower"] < first["value"] < first["upper"]
    with pytest.raises(analysis.AnalysisError, match="unknown indicator 'nope'"):
        analysis.indicator_values(store_with_data, "nope", analysis.Extent())


def test_local_statistics_through_the_analysis(store_with_data):
    out = analysis.local_statistic(store_with_data, "imd_score", analysis.Extent(), "gi-star")
    assert len(out) == 8 and {"g_star", "z", "bin", "spot", "lsoa21nm"} <= set(out.columns)
    assert out.attrs["weights"]["kind"] == "queen"
    bi = analysis.local_statistic(store_with_data, "ae", analysis.Extent(), "bivariate", deprivation="imd_decile")
    assert bi["cluster"].notna().all()
    with pytest.raises(analysis.AnalysisError, match="unknown statistic"):
        analysis.local_statistic(store_with_data, "imd_score", analysis.Extent(), "kriging")


def by_group(store, name, extent, grouping):
    from geo.views import map_table

    return map_table.group_table(store, name, extent, grouping)


def test_by_deprivation_quintile_with_dsr_and_sii(store_with_data):
    out = by_group(store_with_data, "ae", analysis.Extent(), "imd_quintile")
    # published totals: each perturbed and rounded to 5, near the raw total
    assert out["count"].sum() % 5 == 0
    assert abs(out["count"].sum() - sum(20 + 10 * i for i in range(8))) <= 5 * 30
    assert {"crude_rate", "crude_lower", "crude_upper", "dsr", "dsr_lower", "dsr_upper"} <= set(out.columns)
    eth = by_group(store_with_data, "ae", analysis.Extent(), "ethnic_group")
    # every Census group is a row, with its whole population, even where no event fell (issue 9)
    assert set(eth["group"]) == {"white", "asian", "black", "mixed", "other"}
    assert (eth.set_index("group").loc[["mixed", "other"], "count"] == 0).all()
    # Census 2021 residents by ethnic group are the denominators: white is 60% of each LSOA
    white = eth.set_index("group").loc["white"]
    assert white["population"] == pytest.approx(0.6 * sum(fx_residents()))


def fx_residents():
    from tests.fixture_mirror import RESIDENTS
    return RESIDENTS.values()


def test_sii_over_five_quintiles(tmp_path, store_with_data):
    # the fixture's 8 LSOAs span all five national quintiles
    out = by_group(store_with_data, "ae", analysis.Extent(), "imd_quintile")
    assert len(out) == 5
    assert set(out.attrs["sii"]) >= {"sii", "rii", "sii_lower_95", "sii_upper_95"}
    of = out.attrs["sii"]["of"]  # the DSR, or the crude rate where a quintile's DSR is not shown
    assert of in ("dsr", "crude_rate") and out.attrs["gap"]["gap"] == pytest.approx(out.iloc[0][of] - out.iloc[4][of])


def test_cli_analyse(store_with_data, monkeypatch):
    monkeypatch.setenv("GAPMAP_STORE", str(store_with_data.root))
    runner = CliRunner()
    result = runner.invoke(main, ["analyse", "imd_score", "--stat", "local-moran", "--permutations", "199"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) == 8 and "cluster" in frame.columns
    assert "Open Government Licence" in result.stderr
    moran = runner.invoke(main, ["analyse", "imd_score", "--stat", "moran", "--format", "json"])
    assert json.loads(moran.stdout)["n"] == 8
    classes = runner.invoke(main, ["analyse", "imd_decile", "--stat", "classes", "--scheme", "imd_deciles",
                                   "--format", "json"])
    assert json.loads(classes.stdout)[0]["class_label"].startswith("Decile")
    bad = runner.invoke(main, ["analyse", "imd_score", "--icb", "QAA", "--lad", "E06000001"])
    assert bad.exit_code == 2
    unknown = runner.invoke(main, ["analyse", "nope"])
    assert unknown.exit_code == 1 and "unknown indicator" in unknown.output

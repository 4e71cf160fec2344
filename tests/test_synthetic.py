"""Synthetic SUS-shaped A&E records: labelled, reproducible, shaped by the real inputs."""
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo.ingest import synthetic
from geo.cli import main
from geo.store.datasets import DatasetStore
from geo.ingest.pipeline import IngestOptions, ingest


def test_generate_is_reproducible_and_labelled(fixture_store, tmp_path):
    table, meta = synthetic.generate(fixture_store, "E54000001", rows=2000, seed=7)
    again, _ = synthetic.generate(fixture_store, "E54000001", rows=2000, seed=7)
    assert table.equals(again)
    assert table.column_names == list(synthetic.COLUMNS)
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["note"]
    codes = set(table["Der_Postcode_LSOA_2021_Code"].to_pylist())
    assert codes <= {f"E0100000{i}" for i in range(1, 7)}  # only the ICB's LSOAs
    out = synthetic.write(table, meta, tmp_path / "ae.csv")
    assert json.loads((tmp_path / "ae.csv.json").read_text())["synthetic"] is True
    frame = pd.read_csv(out, dtype=str)
    assert len(frame) == 2000 and frame["Sex"].isin(["1", "2", "9"]).all()


def test_deprivation_gradient_shows(fixture_store):
    # acute morbidity is 60 + 2 x IMD score in the fixture: LSOA 5 (score 60) should attend far more
    # per head than LSOA 4 (score 8)
    table, _ = synthetic.generate(fixture_store, "E54000001", rows=40000, seed=3)
    counts = pd.Series(table["Der_Postcode_LSOA_2021_Code"].to_pylist()).value_counts()
    pop = fixture_store.population_by_age().set_index("lsoa21cd")["population_mid2020"]
    per_head = counts / pop.reindex(counts.index)
    assert per_head["E01000005"] > 1.8 * per_head["E01000004"]


def test_dirty_rows_are_caught_by_ingest(fixture_store, tmp_path):
    table, meta = synthetic.generate(fixture_store, "E54000001", rows=5000, seed=11, dirty=0.1)
    path = synthetic.write(table, meta, tmp_path / "dirty.parquet")
    result = ingest(path, IngestOptions(name="syn", by=("age_band", "sex")), fixture_store)
    r = result.report
    assert result.meta["synthetic"] is True  # read from the Parquet file's own metadata
    assert r["rows_read"] == 5000 == r["rows_used"] + r["rows_rejected"]
    spoiled = meta["spoiled_rows"]
    # every spoiled row is rejected except the 2011 codes, which are converted
    assert r["codes"]["split"] + r["codes"]["merged"] + r["codes"]["irregular"] == spoiled["lsoa_2011"]
    assert r["rows_rejected"] == sum(spoiled.values()) - spoiled["lsoa_2011"] - _harmless(meta, table)
    kinds = " ".join(x["reason"] for x in r["reasons"])
    for text in ("unknown or retired", "Welsh", "LSOA code is empty", "is not a day of the calendar", "is not a date",
                 "outside",
                 "duplicate record id"):
        assert text in kinds


def _harmless(meta, table):
    """Spoiled rows that stay usable: an age of 150 is rejected, but a 'duplicate' id on a row
    whose neighbour was itself rejected still counts once; nothing else is harmless."""
    ids = pd.Series(table["EC_Ident"].to_pylist())
    return int(meta["spoiled_rows"]["duplicate_id"] - ids.duplicated().sum())


def test_cli_demo_data_then_ingest(fixture_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
    runner = CliRunner()
    assert runner.invoke(main, ["data", "build", "--mirror", str(fixture_mirror), "--quiet"]).exit_code == 0
    out = tmp_path / "ae.csv"
    result = runner.invoke(main, ["demo-data", "--icb", "QAA", "--rows", "3000", "--dirty", "0.05", "--out", str(out)])
    assert result.exit_code == 0 and "SYNTHETIC" in result.output
    result = runner.invoke(main, ["ingest", str(out), "--name", "ae", "--by", "age_band,ethnic_group",
                                  "--measure", "A&E attendances"])
    assert result.exit_code == 0, result.output
    assert "rows read 3,000" in result.output and "labelled SYNTHETIC" in result.output
    assert "dirty.csv" not in result.output and "ae.csv row" in result.output
    listing = runner.invoke(main, ["datasets"])
    assert "ae [SYNTHETIC]: A&E attendances (records, ae.csv" in listing.output
    rows = runner.invoke(main, ["datasets", "rows", "ae"])
    assert rows.output.startswith("row,column,value,reason,used,count")
    assert runner.invoke(main, ["datasets", "rm", "ae"]).exit_code == 0
    assert "No datasets yet" in runner.invoke(main, ["datasets"]).output
    bad = runner.invoke(main, ["ingest", str(out), "--name", "x", "--column", "count"])
    assert bad.exit_code == 2 and "ROLE=NAME" in bad.output


# ---- the statement demo: a file per indicator, shaped as its definition says ------------------

ICB = "E54000001"


@pytest.fixture(scope="module")
def demo(fixture_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return {m["code"]: m for m in synthetic.demo_indicators(fixture_store, ICB, synthetic.DEMO_INDICATORS, out, seed=3)}


def _ages_of(code):
    from geo.sources.indicator_definitions import for_indicator

    d = for_indicator(code)
    return d.age_lo, (200 if d.age_hi is None else d.age_hi)


def test_every_demo_file_is_labelled_synthetic(demo):
    assert set(demo) == {"UEC01", "CVD01", "ORA01", "MAT01", "RES02", "CVD03"}
    for code, made in demo.items():
        label = json.loads(made["path"].with_name(made["path"].name + ".json").read_text())
        assert label["synthetic"] is True and "SYNTHETIC" in label["note"] and label["nhs_indicator"] == code
        assert "SYNTHETIC" in made["measure"]
    regs = demo["CVD03"]["options"]["registrations"]
    assert json.loads(regs.with_name(regs.name + ".json").read_text())["synthetic"] is True


@pytest.mark.parametrize("code", ["UEC01", "CVD01", "ORA01"])
def test_admission_records_are_at_the_indicators_ages(demo, fixture_store, code):
    frame = pd.read_csv(demo[code]["path"], dtype=str)
    assert list(frame.columns) == list(synthetic.ADMISSION_COLUMNS) and len(frame) > 0
    lo, hi = _ages_of(code)
    ages = frame["Age_On_Admission"].astype(int)
    assert ages.between(lo, hi).all(), (ages.min(), ages.max())
    assert set(frame["Der_Postcode_LSOA_2021_Code"]) <= {f"E0100000{i}" for i in range(1, 7)}
    fy = pd.to_datetime(frame["Admission_Date"])
    assert fy.min() >= pd.Timestamp("2022-04-01") and fy.max() <= pd.Timestamp("2025-03-31")


def test_stroke_admissions_rise_steeply_with_age_and_more_in_men(fixture_store):
    table, _ = synthetic.generate_profile(fixture_store, ICB, "CVD01", seed=5, scale=40)
    frame = table.to_pandas()
    age = frame["Age_On_Admission"].astype(int)
    pop = fixture_store.population_by_age(icb=ICB)
    per_head = {band: (age.between(a, b).sum() / pop[[f"age_{x}" for x in range(a, b + 1)]].sum().sum())
                for band, (a, b) in {"40-49": (40, 49), "70-79": (70, 79)}.items()}
    assert per_head["70-79"] > 8 * per_head["40-49"]
    male = (frame["Sex"] == "1").mean()
    assert 0.54 < male < 0.61  # men's rate 1.35 times women's


def test_births_file_with_a_preterm_flag(demo, fixture_store):
    frame = pd.read_csv(demo["MAT01"]["path"], dtype=str)
    assert list(frame.columns) == list(synthetic.BIRTH_COLUMNS) and len(frame) > 100
    assert frame["Mother_Age"].astype(int).between(15, 44).all()
    assert set(frame["Preterm"]) == {"Y", "N"}
    assert ((frame["Gestation_Weeks"].astype(int) < 37) == (frame["Preterm"] == "Y")).all()
    big, _ = synthetic.generate_births(fixture_store, ICB, seed=9)
    births = big.to_pandas()
    assert 0.06 < (births["Preterm"] == "Y").mean() < 0.10
    score = fixture_store.lsoas(geometry=False, columns=["lsoa21cd", "imd_score"]).set_index("lsoa21cd")["imd_score"]
    by_lsoa = births.groupby("LSOA_2021_Code")["Preterm"].apply(lambda s: (s == "Y").mean())
    most, least = score.reindex(by_lsoa.index).idxmax(), score.reindex(by_lsoa.index).idxmin()
    assert by_lsoa[most] > by_lsoa[least]  # a deprivation gradient


def test_flu_uptake_per_lsoa(demo, fixture_store):
    frame = pd.read_csv(demo["RES02"]["path"])
    assert list(frame.columns) == list(synthetic.FLU_COLUMNS)
    assert (frame["Vaccinated"] <= frame["Eligible"]).all() and (frame["Eligible"] > 0).all()
    assert frame["Season"].nunique() == 3 and len(frame) == 3 * 6
    assert 0.6 < frame["Vaccinated"].sum() / frame["Eligible"].sum() < 0.8
    pop = fixture_store.population_by_age(icb=ICB).set_index("lsoa21cd")
    assert frame.groupby("LSOA21CD")["Eligible"].first().max() <= pop["population_mid2020"].max()
    score = fixture_store.lsoas(geometry=False, columns=["lsoa21cd", "imd_score"]).set_index("lsoa21cd")["imd_score"]
    uptake = frame.groupby("LSOA21CD").apply(lambda f: f["Vaccinated"].sum() / f["Eligible"].sum())
    assert np.corrcoef(score.reindex(uptake.index), uptake)[0, 1] < -0.5  # lower where more deprived


def test_practice_file_and_registrations_in_nhs_englands_layout(demo, fixture_store):
    from geo.sources.loaders import read_gp_registrations

    made = demo["CVD03"]
    frame = pd.read_csv(made["path"], dtype={"Practice_Code": str})
    assert list(frame.columns) == list(synthetic.PRACTICE_COLUMNS)
    assert set(frame["Practice_Code"]) <= set(fixture_store.points("gp_practices", icb=ICB)["practice_code"])
    assert (frame["Numerator"] <= frame["Denominator"]).all()
    regs_path = made["options"]["registrations"]
    assert regs_path.name == "demo_gp-reg-pat-prac-lsoa-all.csv"
    raw = pd.read_csv(regs_path, dtype=str)
    assert list(raw.columns) == list(synthetic.REGISTRATION_COLUMNS) and set(raw["SEX"]) == {"ALL"}
    regs = read_gp_registrations(regs_path)
    pop = fixture_store.population_by_age(icb=ICB)["population_mid2020"].sum()
    assert 0.95 * pop < regs["patients"].sum() < 1.1 * pop  # drawn from the real residents
    assert regs.groupby("practice_code")["lsoa_code"].nunique().max() > 1  # a list spread over LSOAs


def test_demo_files_ingest_attached_and_reconciled(demo, fixture_store):
    from geo.sources.indicator_definitions import for_indicator

    for code, made in demo.items():
        rows_in = len(pd.read_csv(made["path"], dtype=str))
        result = ingest(made["path"], IngestOptions(name=f"demo-{code.lower()}", nhs_indicator=code, synthetic=True,
                                                    **made["options"]), fixture_store)
        r = result.report
        assert r["rows_read"] == rows_in == r["rows_used"] + r["rows_rejected"], code
        assert r["rows_rejected"] == len(result.rows_not_used[~result.rows_not_used["used"].astype(bool)])
        assert result.meta["synthetic"] is True and result.meta["nhs_indicator"] == code
        shipped = for_indicator(code).to_meta()
        assert result.meta["definition"] == shipped, code
        expected_years = 1.0 if shipped["period"] == "snapshot" else 3.0
        assert result.meta["years_of_data"] == expected_years, code
    dataset = DatasetStore(fixture_store).get("demo-mat01")
    counts = dataset.counts()
    assert {"count", "denominator"} <= set(counts.columns)
    assert counts["denominator"].sum() == len(pd.read_csv(demo["MAT01"]["path"]))
    unlabelled = demo["CVD03"]["path"].with_name("cvd03_without_label.csv")  # no sidecar: only the registrations'
    unlabelled.write_bytes(demo["CVD03"]["path"].read_bytes())
    registered = ingest(unlabelled, IngestOptions(name="demo-cvd03-real-label", nhs_indicator="CVD03",
                                                  **demo["CVD03"]["options"]), fixture_store)
    assert registered.meta["synthetic"] is True  # made-up registrations make the shared values made up
    DatasetStore(fixture_store).remove("demo-cvd03-real-label")
    cvd03 = DatasetStore(fixture_store).get("demo-cvd03")
    assert cvd03.meta["level"] == "practice" and cvd03.meta["registrations"]["synthetic"] is True
    assert {"numerator", "denominator", "value", "patients", "imd_score", "imd_quintile"} <= set(cvd03.practices())
    for code in demo:
        DatasetStore(fixture_store).remove(f"demo-{code.lower()}")


def test_cli_demo_indicators_all(fixture_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
    runner = CliRunner()
    assert runner.invoke(main, ["data", "build", "--mirror", str(fixture_mirror), "--quiet"]).exit_code == 0
    result = runner.invoke(main, ["demo-data", "--icb", "QAA", "--indicators", "all", "--ingest",
                                  "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    for code in synthetic.DEMO_INDICATORS:
        assert f"attached to {code}" in result.output
    assert "SYNTHETIC registrations by LSOA" in result.output
    listing = runner.invoke(main, ["datasets"]).output
    assert "demo-cvd03 [SYNTHETIC]" in listing and "demo-mat01 [SYNTHETIC]" in listing

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
    for text in ("unknown or retired", "Welsh", "LSOA code is empty", "not recognised", "outside",
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

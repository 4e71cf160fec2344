"""Property: random dirty files never raise an unhandled error, and always reconcile."""
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.ingest.pipeline import IngestError, IngestOptions, ingest

CODES = st.sampled_from(["E01000001", "E01000004", "E01009001", "E01009002", "E01999999", "W01000001", "",
                         "e01000002 ", "E02000001", "LU1 1AB", "x"])
COUNTS = st.one_of(st.integers(-5, 500).map(str), st.sampled_from(["", "1.5", "n/a", "1,000", " 7 ", "nan", "inf"]))
TEXT = st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=12)
DATES = st.one_of(st.dates().map(str), st.sampled_from(["31/01/2024", "2024-02-30", "", "soon"]), TEXT)
AGES = st.one_of(st.integers(-3, 130).map(str), st.sampled_from(["", "x", "12.7"]))

settings.register_profile("ci", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


@given(rows=st.lists(st.tuples(CODES, COUNTS, st.sampled_from(["M", "F", "9", "?", ""])), min_size=1,
                     max_size=30))
def test_aggregated_files_reconcile(fixture_store, tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("h") / "a.csv"
    pd.DataFrame(rows, columns=["lsoa", "count", "sex"]).to_csv(path, index=False)
    try:
        result = ingest(path, IngestOptions(name="prop"), fixture_store)
    except IngestError:
        return  # a clear, handled refusal (e.g. a file with no usable header)
    r = result.report
    assert r["rows_read"] == len(rows) == r["rows_used"] + r["rows_rejected"]
    assert r["counts_read"] == pytest.approx(r["counts_used"] + r["counts_rejected"])
    assert r["counts_stored"] == pytest.approx(r["counts_used"])
    assert len(result.rows_not_used[~result.rows_not_used["used"].astype(bool)]) == r["rows_rejected"]


@given(rows=st.lists(st.tuples(CODES, AGES, DATES, TEXT), min_size=1, max_size=30))
def test_record_files_reconcile(fixture_store, tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("h") / "r.csv"
    pd.DataFrame(rows, columns=["lsoa", "age", "date", "ethnicity"]).to_csv(path, index=False)
    try:
        result = ingest(path, IngestOptions(name="prop", by=("age_band", "ethnic_group", "period")), fixture_store)
    except IngestError:
        return
    r = result.report
    assert r["rows_read"] == len(rows) == r["rows_used"] + r["rows_rejected"]
    assert r["counts_stored"] == pytest.approx(r["rows_used"])

"""Ingest: one test per validation rule, round trips through the three shapes, reconciliation."""
import json

import numpy as np
import pandas as pd
import pytest

from geo.store.datasets import DatasetError, DatasetStore, rates
from geo.store.folder import Store
from geo.ingest.pipeline import IngestError, IngestOptions, format_report, ingest
from tests import fixture_mirror as fx


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def run(store, path, **kw):
    kw.setdefault("name", "t")
    return ingest(path, IngestOptions(**kw), store)


def reasons(result):
    frame = result.rows_not_used
    return {int(r.row): r.reason for r in frame.itertuples()}


def assert_reconciles(report):
    assert report["rows_read"] == report["rows_used"] + report["rows_rejected"]
    assert report["counts_read"] == pytest.approx(report["counts_used"] + report["counts_rejected"])
    assert report["counts_stored"] == pytest.approx(report["counts_used"])


# ---- aggregated files --------------------------------------------------------------------------

def test_aggregated_2021_codes(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,10\nE01000002,5\nE01000007,3\n")
    result = run(fixture_store, path)
    counts = result.counts.set_index("lsoa21cd")["count"]
    assert counts.to_dict() == {"E01000001": 10, "E01000002": 5, "E01000007": 3}
    assert result.report["rows_used"] == 3 and result.report["codes"]["lsoa21"] == 3
    assert_reconciles(result.report)


def test_2011_codes_are_converted_and_equal_2021_totals_per_lad(fixture_store, tmp_path):
    old = write(tmp_path / "old.csv", "LSOA11CD,Count\nE01000001,10\nE01009001,40\nE01009002,7\nE01009003,3\n")
    result = run(fixture_store, old, name="old")
    counts = result.counts.set_index("lsoa21cd")["count"]
    # split by Census 2021 residents of the pieces (1000 and 3000); merged parents summed
    assert counts["E01000007"] == pytest.approx(10) and counts["E01000008"] == pytest.approx(30)
    assert counts["E01000004"] == pytest.approx(10)
    assert result.report["codes"] == {"lsoa21": 1, "split": 1, "merged": 2, "irregular": 0, "postcode": 0}
    assert_reconciles(result.report)
    new = write(tmp_path / "new.csv", "LSOA21CD,Count\nE01000001,10\nE01000007,10\nE01000008,30\nE01000004,10\n")
    result_new = run(fixture_store, new, name="new")
    lad = fixture_store.lsoas(geometry=False, columns=["lsoa21cd", "lad24cd"]).set_index("lsoa21cd")["lad24cd"]

    def per_lad(frame):
        return frame.groupby(frame["lsoa21cd"].map(lad))["count"].sum().to_dict()

    assert per_lad(result.counts) == pytest.approx(per_lad(result_new.counts))


@pytest.mark.parametrize("code, reason", [
    ("E01999999", "unknown or retired LSOA code"),
    ("W01000001", "Welsh LSOA: Gapmap covers England only"),
    ("E02000001", "not an LSOA code (a E02 code)"),
    ("banana", "not an LSOA code"),
    ("", "LSOA code is empty"),
])
def test_unusable_codes(fixture_store, tmp_path, code, reason):
    path = write(tmp_path / "a.csv", f"lsoa,count\nE01000001,4\n{code},6\n")
    result = run(fixture_store, path)
    assert reasons(result)[3].startswith(reason)
    row = result.rows_not_used.iloc[0]
    assert row["column"] == "lsoa" and row["value"] == code and row["count"] == 6 and not row["used"]
    assert result.report["counts_rejected"] == 6
    assert_reconciles(result.report)


@pytest.mark.parametrize("value, reason", [
    ("-2", "count -2 is negative"),
    ("2.5", "count 2.5 is not a whole number"),
    ("many", "count 'many' is not a number"),
    ("", "count is empty"),
])
def test_bad_counts(fixture_store, tmp_path, value, reason):
    path = write(tmp_path / "a.csv", f"lsoa21cd,count\nE01000001,4\nE01000002,{value}\n")
    result = run(fixture_store, path)
    assert reasons(result) == {3: reason}
    assert result.report["rows_rejected"] == 1 and result.report["counts_used"] == 4
    assert_reconciles(result.report)


def test_thousands_separators_in_counts(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", 'lsoa21cd,count\nE01000001,"1,204"\n')
    assert run(fixture_store, path).counts["count"].tolist() == [1204]


def test_duplicates_name_the_first_row(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,sex,count\nE01000001,M,4\nE01000001,F,5\nE01000001,M,6\n")
    result = run(fixture_store, path)
    assert reasons(result) == {4: "duplicate of row 2"}
    assert result.report["counts_used"] == 9


def test_denominator_rules(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv",
                 "lsoa21cd,count,denominator\nE01000001,4,100\nE01000002,50,10\nE01000003,5,n/a\n")
    result = run(fixture_store, path)
    assert reasons(result) == {3: "denominator is smaller than the count", 4: "denominator 'n/a' is not a number"}
    assert result.counts.set_index("lsoa21cd")["denominator"].to_dict() == {"E01000001": 100}


def test_age_band_sex_period_in_aggregated(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,age_band,sex,period,count\n"
                 "E01000001,0-4,Male,2024/25,3\nE01000001,05 to 09,F,2024/25,2\nE01000001,90+,Persons,2024/25,1\n"
                 "E01000001,old,Male,2024/25,9\n")
    result = run(fixture_store, path)
    c = result.counts
    assert c[["age_band", "sex", "age_lo", "age_hi"]].values.tolist() == [
        ["0-4", "male", 0, 4], ["5-9", "female", 5, 9], ["90+", "persons", 90, -1]]
    assert reasons(result) == {5: "age band 'old' not recognised"}


# ---- record-level files ------------------------------------------------------------------------

RECORDS = ("id,lsoa,postcode,age,sex,ethnic_category,arrival_date\n"
           "1,E01000001,,3,1,A,2024-05-01\n"
           "2,E01000001,,4,2,H,01/06/2024\n"
           "3,,LU1 1AB,70,2,Z,2024-07-01\n"
           "4,,lu11aa,91,9,White: Irish,2025-01-15\n"
           "5,,LU9 9XX,30,1,A,2024-05-01\n"
           "6,,BD1 1AA,30,1,A,2024-05-01\n"
           "7,,LU3 3XY,30,1,A,2024-05-01\n"
           "8,E01000002,,abc,1,A,2024-05-01\n"
           "9,E01000002,,30,1,A,2099-05-01\n"
           "9,E01000002,,30,1,A,2024-05-01\n"
           "10,E01000002,,30,7,Martian,2024-13-01\n"
           "11,E01000002,,35,1,q,2024-06-01\n")


def test_records_every_rule(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", RECORDS)
    result = run(fixture_store, path, by=("age_band", "sex", "ethnic_group", "period"))
    why = reasons(result)
    assert why[6] == "unknown postcode"
    assert why[7] == "postcode area BD not in the Code-Point Open files read"
    assert why[8] == "postcode outside England"
    assert why[9] == "age 'abc' is not a number"
    assert why[10].startswith("date 2099-05-01 is outside 2000-01-01 to")
    assert why[11] == "duplicate record id"
    assert why[12] == "date '2024-13-01' not recognised"
    # an unknown ethnic code is used (as not known) but flagged
    flagged = result.rows_not_used[result.rows_not_used["used"].astype(bool)]
    assert flagged["reason"].tolist() == ["ethnic group 'q' not recognised: counted as not known"]
    c = result.counts
    assert c["count"].sum() == 5 and result.report["rows_used"] == 5
    got = {(r.lsoa21cd, r.age_band, r.sex, r.ethnic_group, r.period) for r in c.itertuples()}
    assert got == {
        ("E01000001", "0-4", "male", "white", "2024/25"), ("E01000001", "0-4", "female", "asian", "2024/25"),
        ("E01000008", "70-74", "female", "unknown", "2024/25"), ("E01000001", "90+", "unknown", "white", "2024/25"),
        ("E01000002", "35-39", "male", "unknown", "2024/25"),
    }
    assert result.report["codes"]["postcode"] == 2
    assert_reconciles(result.report)


@pytest.mark.parametrize("value, group", [
    ("R", "asian"),  # NHS code R (Chinese): Asian, as Census 2021 (TS021) counts it
    ("r", "asian"),  # codes in any case
    ("R1", "asian"),  # a local sub-code of R
    ("Chinese", "asian"),  # the category's name
    ("Other Ethnic Groups: Chinese", "asian"),  # the 2001 label, which filed Chinese under Other
    ("S", "other"),  # any other ethnic group stays Other
])
def test_chinese_is_asian_as_in_census_2021(fixture_store, tmp_path, value, group):
    path = write(tmp_path / "r.csv", "id,lsoa,age,sex,ethnic_category,arrival_date\n"
                                     f"1,E01000001,30,1,{value},2024-05-01\n")
    result = run(fixture_store, path, by=("ethnic_group",))
    assert result.rows_not_used.empty  # used without a warning
    assert result.counts["ethnic_group"].tolist() == [group]


def test_record_breakdowns_need_their_columns(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", "lsoa\nE01000001\n")
    with pytest.raises(IngestError, match="cannot break down by sex: no sex column"):
        run(fixture_store, path, by=("sex",))
    result = run(fixture_store, path)
    assert result.counts.to_dict("records") == [{"lsoa21cd": "E01000001", "count": 1.0}]


def test_period_units(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", "lsoa,date\nE01000001,2024-03-31\nE01000001,2024-04-01\n")
    fy = run(fixture_store, path, by=("period",)).counts["period"].tolist()
    assert fy == ["2023/24", "2024/25"]
    months = run(fixture_store, path, by=("period",), period_unit="month").counts["period"].tolist()
    assert months == ["2024-03", "2024-04"]
    limited = run(fixture_store, path, date_from=pd.Timestamp("2024-04-01").date())
    assert limited.report["rows_rejected"] == 1


# ---- files as analysts have them ---------------------------------------------------------------

def test_windows_1252_semicolons(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "Área;LSOA code;Attendances\nLuton café;E01000001;3\nÉcole;E01000002;4\n",
                 encoding="cp1252")
    result = run(fixture_store, path, columns={"lsoa": "LSOA code", "count": "Attendances"})
    assert result.counts["count"].sum() == 7
    assert result.meta["format"]["delimiter"] == ";" and result.meta["format"]["encoding"] != "utf-8"


def test_utf16_and_tabs(fixture_store, tmp_path):
    path = tmp_path / "a.tsv"
    path.write_bytes("lsoa21cd\tcount\nE01000001\t3\n".encode("utf-16"))
    assert run(fixture_store, path).counts["count"].sum() == 3


def test_xlsx_and_parquet(fixture_store, tmp_path):
    frame = pd.DataFrame({"LSOA21CD": ["E01000001", "E01000003", "nope"], "Count": [2, 3, 4]})
    frame.to_excel(tmp_path / "a.xlsx", index=False)
    frame.to_parquet(tmp_path / "a.parquet")
    for name in ("a.xlsx", "a.parquet"):
        result = run(fixture_store, tmp_path / name)
        assert result.counts["count"].sum() == 5 and reasons(result) == {4: "not an LSOA code"}


def test_ragged_rows_are_listed_with_their_line(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,3\nE01000002,4,extra\nE01000003,5\n")
    result = run(fixture_store, path)
    assert reasons(result) == {3: "the row has 3 fields; the header has 2"}
    assert result.counts["count"].sum() == 8
    assert result.report["rows_read"] == 3 and result.report["rows_rejected"] == 1


def test_unreadable_file_changes_nothing(fixture_store, tmp_path):
    good = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,3\n")
    run(fixture_store, good, name="keep")
    before = DatasetStore(fixture_store).get("keep").meta["sha256"]
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(IngestError, match=r"b\.csv: this is not a text file"):
        run(fixture_store, binary, name="keep")
    assert DatasetStore(fixture_store).get("keep").meta["sha256"] == before
    empty = write(tmp_path / "e.csv", "")
    with pytest.raises(IngestError, match="empty"):
        run(fixture_store, empty, name="keep")
    no_code = write(tmp_path / "n.csv", "x,count\n1,2\n")
    with pytest.raises(IngestError, match="no LSOA code or postcode column"):
        run(fixture_store, no_code, name="keep")
    assert DatasetStore(fixture_store).get("keep").meta["sha256"] == before


def test_reingest_replaces_and_provenance_is_kept(fixture_store, tmp_path):
    first = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,3\n")
    run(fixture_store, first, name="ae", measure="A&E attendances", unit="attendances")
    second = write(tmp_path / "b.csv", "lsoa21cd,count\nE01000001,8\n")
    run(fixture_store, second, name="ae", measure="A&E attendances", higher_is_worse=True)
    dataset = DatasetStore(fixture_store).get("ae")
    meta = dataset.meta
    assert dataset.counts()["count"].tolist() == [8]
    assert meta["source_file"] == "b.csv" and len(meta["sha256"]) == 64
    assert meta["measure"] == "A&E attendances" and meta["higher_is_worse"] is True
    assert meta["report"]["rows_used"] == 1 and meta["synthetic"] is False
    if isinstance(fixture_store, Store):
        versions = list((fixture_store.root / "datasets" / ".versions").iterdir())
        assert len([v for v in versions if v.name.startswith("ae-")]) == 1
    else:  # PostGIS: the tables of one version per dataset, none left behind
        assert len(DatasetStore(fixture_store).versions()) == len(DatasetStore(fixture_store).names())
    DatasetStore(fixture_store).remove("ae")
    with pytest.raises(DatasetError, match="no dataset called 'ae'"):
        DatasetStore(fixture_store).get("ae")


def test_bad_names_and_options(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,3\n")
    with pytest.raises(DatasetError, match="dataset name"):
        run(fixture_store, path, name="A&E 2024")
    with pytest.raises(IngestError, match="no column 'Attends'"):
        run(fixture_store, path, columns={"count": "Attends"})
    with pytest.raises(IngestError, match="cannot break down by colour"):
        run(fixture_store, path, by=("colour",))


# ---- Fingertips --------------------------------------------------------------------------------

def test_fingertips_practices(fixture_store, fixture_mirror):
    path = fixture_mirror / "activity/fingertips_93930_ae_attendances_0_4_gp_2021_22.csv"
    result = run(fixture_store, path, name="ft")
    assert result.meta["shape"] == "fingertips"
    assert result.meta["measure"] == "A&E attendances (0 to 4 years)"
    points = DatasetStore(fixture_store).get("ft").practices()
    assert points["practice_code"].tolist() == ["A00001", "A00002"]
    assert points["value"].tolist() == [700.0, 812.5] and points["lsoa21cd"].tolist() == ["E01000001", "E01000008"]
    why = reasons(result)
    assert why[2].startswith("not a GP practice row (Area Type England)")
    assert why[5].startswith("practice not placed on the map")
    assert why[6] == "no value for this practice"
    assert result.report["rows_read"] == 5
    assert result.report["counts_read"] == pytest.approx(result.report["counts_used"] + result.report["counts_rejected"])


# ---- rates -------------------------------------------------------------------------------------

def test_rates_denominators(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", RECORDS)
    run(fixture_store, path, name="r", by=("age_band", "sex", "ethnic_group"))
    dataset = DatasetStore(fixture_store).get("r")
    pop = fixture_store.population_by_age().set_index("lsoa21cd")
    all_ages = rates(dataset, fixture_store, keep=()).set_index("lsoa21cd")
    assert all_ages.loc["E01000001", "count"] == 3
    assert all_ages.loc["E01000001", "population"] == pytest.approx(pop.loc["E01000001", "population_mid2020"])
    banded = rates(dataset, fixture_store, keep=("age_band",)).set_index(["lsoa21cd", "age_band"])
    ages = pop.loc["E01000001", [f"age_{a}" for a in range(5)]].sum()
    assert banded.loc[("E01000001", "0-4"), "population"] == pytest.approx(ages)
    assert banded.loc[("E01000001", "0-4"), "esp_weight"] == 5000
    assert banded.loc[("E01000001", "90+"), "esp_weight"] == 1000
    ethnic = rates(dataset, fixture_store, keep=("ethnic_group",)).set_index(["lsoa21cd", "ethnic_group"])
    assert ethnic.loc[("E01000001", "white"), "population"] == pytest.approx(1500 * 0.6)
    assert np.isnan(ethnic.loc[("E01000008", "unknown"), "population"])
    by_sex = rates(dataset, fixture_store, keep=("sex",))
    assert by_sex["population"].isna().all() and by_sex["population_source"].str.startswith("none").all()
    with pytest.raises(DatasetError, match="no breakdown period"):
        rates(dataset, fixture_store, keep=("period",))


def test_supplied_denominator_used(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,count,population\nE01000001,4,400\n")
    run(fixture_store, path, name="d")
    out = rates(DatasetStore(fixture_store).get("d"), fixture_store)
    assert out[["count", "population", "population_source"]].values.tolist() == [[4, 400, "supplied with the data"]]


def test_format_report_reads_well(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,4\nW01000001,6\n")
    text = format_report(run(fixture_store, path).report, "t")
    assert "rows read 2: used 1, rejected 1" in text
    assert "counts read 10 = used 4 + rejected 6" in text
    assert "rejected 1 row(s) [lsoa21cd]: Welsh LSOA" in text

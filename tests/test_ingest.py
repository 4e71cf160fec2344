"""Ingest: one test per validation rule, round trips through the three shapes, reconciliation."""
import json

import numpy as np
import pandas as pd
import pytest

from geo.errors import GapmapError
from geo.store.datasets import DatasetError, DatasetStore, rates
from geo.store.folder import Store
from geo.ingest.pipeline import IngestError, IngestOptions, format_report, ingest
from tests import fixture_mirror as fx


@pytest.fixture(autouse=True)
def _no_attached_datasets_left(fixture_store):
    """Datasets these tests attach to an NHS statement indicator are removed after each test: the
    store is shared with other modules, whose statements would show them."""
    yield
    datasets = DatasetStore(fixture_store)
    for meta in datasets.list():
        if meta.get("nhs_indicator"):
            datasets.remove(meta["name"])


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
    assert why[12] == "date '2024-13-01' is not a day of the calendar (there is no month 13)"
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
    run(fixture_store, first, name="ae", measure="A&E attendances", unit="per 1,000")
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


# ---- GP practice data, attributed to LSOAs by NHS England's registrations -----------------------

REGISTRATIONS = ("PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,LSOA_CODE,SEX,NUMBER_OF_PATIENTS\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00001,ALPHA SURGERY,E01000001,ALL,60\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00001,ALPHA SURGERY,E01000002,ALL,30\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00001,ALPHA SURGERY,CLOSED,ALL,10\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00002,BETA MEDICAL CENTRE,E01000008,ALL,40\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00002,BETA MEDICAL CENTRE,E01009001,ALL,40\n"  # a 2011 code, split
                 "GP_PRAC_PAT_LIST,01JUL2025,A00004,FAR PRACTICE,E01999999,ALL,20\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00005,EMPTY PRACTICE,E01000003,ALL,0\n"
                 "GP_PRAC_PAT_LIST,01JUL2025,A00009,NOT ON THE MAP,E01000003,ALL,10\n")  # not in ODS's located practices


def registrations(tmp_path):
    return write(tmp_path / "gp-reg-pat-prac-lsoa-all.csv", REGISTRATIONS)


def test_fingertips_practices_are_shared_among_their_patients_lsoas(fixture_store, fixture_mirror, tmp_path):
    path = fixture_mirror / "activity/fingertips_93930_ae_attendances_0_4_gp_2021_22.csv"
    result = run(fixture_store, path, name="ft", registrations=registrations(tmp_path), unit="per 1,000")
    assert result.meta["shape"] == "fingertips" and result.meta["level"] == "practice"
    assert result.meta["measure"] == "A&E attendances (0 to 4 years)"
    why = reasons(result)
    assert why[2].startswith("not a GP practice row (Area Type England)")
    assert why[5] == "none of practice A00004's 20 registered patients live in the LSOAs this store was built for"
    assert why[6] == "no value for this practice"
    # A00001 (70 of 100): 60% of its patients in LSOA 1, 30% in LSOA 2, 10% 'CLOSED' (outside)
    # A00002 (65 of 80): half in LSOA 8, half in 2011 LSOA E01009001, split 1:3 into LSOAs 7 and 8
    dataset = DatasetStore(fixture_store).get("ft")
    assert dataset.kind == "lsoa"
    counts = dataset.counts().set_index("lsoa21cd")
    assert counts["count"].to_dict() == pytest.approx({"E01000001": 42, "E01000002": 21, "E01000007": 8.125,
                                                       "E01000008": 56.875})
    assert counts["denominator"].to_dict() == pytest.approx({"E01000001": 60, "E01000002": 30, "E01000007": 10,
                                                             "E01000008": 70})
    r = result.report
    assert r["rows_read"] == 5 == r["rows_used"] + r["rows_rejected"]
    assert r["counts_read"] == pytest.approx(r["counts_used"] + r["counts_rejected"])
    assert r["counts_stored"] + r["counts_outside_store"] == pytest.approx(r["counts_used"])  # 7 of A00001's in CLOSED
    assert r["counts_outside_store"] == pytest.approx(7)
    practices = dataset.practices().set_index("practice_code")
    assert practices.index.tolist() == ["A00001", "A00002"]
    assert practices.loc["A00001", "value"] == pytest.approx(700.0) and practices.loc["A00001", "patients"] == 100
    assert practices.loc["A00001", "published_value"] == 700.0
    score = fixture_store.lsoas(geometry=False, columns=["lsoa21cd", "imd_score"]).set_index("lsoa21cd")["imd_score"]
    assert practices.loc["A00001", "imd_score"] == pytest.approx((60 * score["E01000001"] + 30 * score["E01000002"]) / 90)
    assert practices.loc["A00001", "imd_coverage"] == pytest.approx(0.9)
    assert "not national" in result.meta["practice_imd"]["quintile_basis"]  # a fixture of 8 LSOAs
    assert result.meta["registrations"]["file"] == "gp-reg-pat-prac-lsoa-all.csv"


def test_practice_file_every_rule(fixture_store, tmp_path):
    path = write(tmp_path / "cvd.csv", "practice_code,numerator,denominator\n"
                 "A00001,5,10\n,1,2\nXYZ,1,2\nA00002,x,2\nA00002,3,2\nA00002,3,0\nA00001,1,2\nA99999,1,2\n"
                 "A00004,1,2\nA00005,1,2\na00002 ,4,8\nA00009,2,4\n")
    result = run(fixture_store, path, name="cvd", nhs_indicator="CVD03", registrations=registrations(tmp_path))
    assert result.meta["shape"] == "practice"
    assert reasons(result) == {
        3: "practice code is empty",
        4: "practice code 'XYZ' is not a GP practice code (a letter and five digits, e.g. A81001)",
        5: "numerator 'x' is not a number",
        6: "denominator is smaller than the numerator",
        7: "denominator is 0",
        8: "duplicate of row 2",
        9: "practice A99999 is not in the registrations file (gp-reg-pat-prac-lsoa-all.csv): no registered patients "
           "to share its values among LSOAs",
        10: "none of practice A00004's 20 registered patients live in the LSOAs this store was built for",
        11: "practice A00005 has no registered patients in the registrations file",
    }
    assert result.meta["definition"]["level"] == "practice" and result.meta["definition"]["measure_type"] == "proportion"
    practices = result.practices.set_index("practice_code")
    assert practices["value"].to_dict() == pytest.approx({"A00001": 50.0, "A00002": 50.0, "A00009": 50.0})  # per cent
    assert result.counts["denominator"].sum() == pytest.approx(10 * 0.9 + 8 + 4)
    # a practice ODS could not place is still shared among its patients' LSOAs, with no point of its own
    kept = DatasetStore(fixture_store).get("cvd").practices().set_index("practice_code")
    assert kept.geometry["A00009"] is None and kept.loc["A00009", "imd_coverage"] == 1.0
    assert kept.loc["A00009", "practice_name"] == "NOT ON THE MAP"
    assert result.meta["years_of_data"] == 1.0  # CVD03 is a snapshot


def test_practice_data_without_registrations_is_refused(fixture_store, tmp_path):
    path = write(tmp_path / "cvd.csv", "practice_code,numerator,denominator\nA00001,5,10\n")
    with pytest.raises(IngestError, match=r"cvd\.csv: GP practice data is shared among the LSOAs .*"
                                          r"gp-reg-pat-prac-lsoa-all\.csv.*digital\.nhs\.uk.*--registrations"):
        run(fixture_store, path, name="cvd")
    bad = write(tmp_path / "regs.csv", "PRACTICE_CODE,LSOA_CODE\nA00001,E01000001\n")
    with pytest.raises(IngestError, match=r"--registrations: .*regs\.csv: missing columns .*NUMBER_OF_PATIENTS"):
        run(fixture_store, path, name="cvd", registrations=bad)
    lsoa_file = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,3\n")
    with pytest.raises(IngestError, match="--registrations is for GP practice files"):
        run(fixture_store, lsoa_file, registrations=registrations(tmp_path))


# ---- indicator definitions ---------------------------------------------------------------------

def test_definition_is_the_shipped_one_with_options_over_it(fixture_store, tmp_path):
    from geo.sources.indicator_definitions import for_indicator

    path = write(tmp_path / "r.csv", "lsoa,age,date\nE01000001,3,2024-05-01\n")
    shipped = run(fixture_store, path, nhs_indicator="UEC01").meta
    assert shipped["definition"] == for_indicator("UEC01").to_meta()
    assert shipped["unit"] == "per 100,000 residents aged 0-17 per year"
    changed = run(fixture_store, path, nhs_indicator="UEC01", ages="0-15", unit="per 1,000").meta["definition"]
    assert (changed["age_lo"], changed["age_hi"], changed["multiplier"]) == (0, 15, 1000)
    assert changed["source"].endswith("changed at ingest: ages 0-15, multiplier 1,000")
    own = run(fixture_store, path, measure_type="rate", ages="18+", sex="female", standardisation="age",
              multiplier=1000, period_type="year").meta["definition"]
    assert (own["age_lo"], own["age_hi"], own["sex"], own["standardisation"]) == (18, None, "female", "age")
    assert own["source"].startswith("given at ingest: measure type rate, ages 18+")
    default = run(fixture_store, path).meta
    assert default["definition"]["source"].startswith("Gapmap's default")


@pytest.mark.parametrize("options, message", [
    ({"measure_type": "banana"}, "indicator definition: measure type 'banana': choose rate, proportion"),
    ({"ages": "ten"}, r"ages 'ten': write them as 0-17, 18\+, 65-74 or all"),
    ({"unit": "per fortnight"}, "unit 'per fortnight' is not one Gapmap can apply: .*--multiplier N"),
    ({"unit": "%", "multiplier": 1000}, "--unit '%' means a multiplier of 100, but --multiplier is 1,000"),
    ({"multiplier": 7}, "multiplier 7: choose 1, 100"),
    ({"measure_type": "proportion"}, "a proportion needs a denominator"),
    ({"nhs_indicator": "MAT01"}, r"r\.csv: the indicator is a proportion \(% of births with a recorded gestation\), so it needs a denominator"),
])
def test_definitions_that_cannot_be_applied_are_refused(fixture_store, tmp_path, options, message):
    path = write(tmp_path / "r.csv", "lsoa,age,date\nE01000001,3,2024-05-01\n")
    with pytest.raises(GapmapError, match=message):
        run(fixture_store, path, **options)


def test_ages_outside_the_indicator_are_listed(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", "lsoa,age,date\nE01000001,3,2024-05-01\nE01000001,34,2024-05-01\n"
                 "E01000001,17,2024-05-01\nE01000001,18,2024-05-01\nE01000001,old,2024-05-01\n")
    result = run(fixture_store, path, nhs_indicator="UEC01")
    assert reasons(result) == {3: "age 34 is outside the indicator's ages 0-17",
                               5: "age 18 is outside the indicator's ages 0-17", 6: "age 'old' is not a number"}
    assert result.counts["count"].sum() == 2
    assert_reconciles(result.report)
    banded = write(tmp_path / "a.csv", "lsoa21cd,age_band,count\nE01000001,0-4,3\nE01000001,15-19,2\n"
                   "E01000001,20-24,4\n")
    result = run(fixture_store, banded, nhs_indicator="UEC01")
    assert reasons(result) == {3: "age band 15-19 reaches outside the indicator's ages 0-17",
                               4: "age band 20-24 is outside the indicator's ages 0-17"}
    no_age = write(tmp_path / "n.csv", "lsoa,date\nE01000001,2024-05-01\n")
    notes = run(fixture_store, no_age, nhs_indicator="UEC01").report["notes"]
    assert "no age or age band column: the rows' ages were not checked against the indicator's ages 0-17" in notes[0]


def test_years_of_data(fixture_store, tmp_path):
    dated = write(tmp_path / "r.csv", "lsoa,date\nE01000001,2022-04-01\nE01000001,2025-03-31\n")
    three = run(fixture_store, dated, by=("period",)).meta
    assert three["years_of_data"] == 3 and "2022/23 to 2024/25" in three["years_of_data_source"]
    assert run(fixture_store, dated).meta["years_of_data"] == 1096 / 365.25
    aggregated = write(tmp_path / "a.csv", "lsoa21cd,period,count\nE01000001,2023/24,3\nE01000001,2024/25,3\n")
    assert run(fixture_store, aggregated).meta["years_of_data"] == 2
    plain = write(tmp_path / "p.csv", "lsoa21cd,count\nE01000001,3\n")
    unknown = run(fixture_store, plain)
    assert unknown.meta["years_of_data"] is None
    assert any(n.startswith("years of data unknown: the file has no period or date column") for n in
               unknown.report["notes"])
    assert "note: years of data unknown" in format_report(unknown.report, "t")
    assert run(fixture_store, plain, period_type="snapshot").meta["years_of_data"] == 1


# ---- records with an outcome flag: every row in the denominator, the yeses the events ------------

def test_outcome_flag_every_rule(fixture_store, tmp_path):
    path = write(tmp_path / "births.csv", "lsoa,mother_age,birth_date,preterm\n"
                 "E01000001,30,2024-05-01,yes\nE01000001,31,2024-05-02,N\nE01000001,25,2024-05-03,1\n"
                 "E01000001,22,2024-05-04,0\nE01000002,40,2024-05-05,TRUE\nE01000002,28,2024-05-06,false\n"
                 "E01000002,28,2024-05-06,maybe\nE01000002,28,2024-05-06,\n")
    result = run(fixture_store, path, nhs_indicator="MAT01", columns={"outcome": "preterm", "date": "birth_date"})
    assert reasons(result) == {8: "outcome 'maybe' is not yes/no (write yes/no, Y/N, 1/0 or true/false)",
                               9: "outcome is empty"}
    counts = result.counts.set_index("lsoa21cd")
    assert counts["count"].to_dict() == {"E01000001": 2, "E01000002": 1}
    assert counts["denominator"].to_dict() == {"E01000001": 4, "E01000002": 2}
    assert result.report["rows_used"] == 6 and result.report["denominators_used"] == 6
    assert result.meta["definition"]["denominator"] == "births"
    assert_reconciles(result.report)
    with pytest.raises(IngestError, match="--column outcome=NAME is for files of one row per person"):
        run(fixture_store, write(tmp_path / "a.csv", "lsoa21cd,count,flag\nE01000001,3,yes\n"),
            columns={"outcome": "flag"})
    with pytest.raises(IngestError, match="give --measure-type proportion"):
        run(fixture_store, path, columns={"outcome": "preterm"}, measure_type="rate")
    own = run(fixture_store, path, columns={"outcome": "preterm"}, measure_type="proportion", unit="%")
    assert own.meta["definition"]["denominator"] == "supplied" and own.meta["unit"] == "% of people in the denominator"


def test_outcome_flag_streamed_in_chunks(fixture_store, tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAP_INGEST_CHUNK_ROWS", "2")
    path = write(tmp_path / "births.csv", "lsoa,date,outcome\n" + "".join(
        f"E0100000{1 + i % 2},2024-05-0{1 + i % 9},{'yes' if i % 3 == 0 else 'no'}\n" for i in range(9)))
    result = run(fixture_store, path, nhs_indicator="MAT01", by=("period",))
    counts = result.counts.set_index("lsoa21cd")
    assert counts["count"].to_dict() == {"E01000001": 2, "E01000002": 1}
    assert counts["denominator"].to_dict() == {"E01000001": 5, "E01000002": 4}
    assert result.report["denominators_used"] == 9


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
    assert DatasetStore(fixture_store).get("d").meta["definition"]["denominator"] == "supplied"
    out = rates(DatasetStore(fixture_store).get("d"), fixture_store)
    assert out[["count", "population", "population_source"]].values.tolist() == [[4, 400, "supplied with the data"]]


def test_format_report_reads_well(fixture_store, tmp_path):
    path = write(tmp_path / "a.csv", "lsoa21cd,count\nE01000001,4\nW01000001,6\n")
    text = format_report(run(fixture_store, path).report, "t")
    assert "rows read 2: used 1, rejected 1" in text
    assert "counts read 10 = used 4 + rejected 6" in text
    assert "rejected 1 row(s) [lsoa21cd]: Welsh LSOA" in text


# ---- reasons grouped by the actual reason ------------------------------------------------------

def test_dates_not_of_the_calendar_and_not_dates_are_separate_reasons(fixture_store, tmp_path):
    path = write(tmp_path / "d.csv", "lsoa21cd,date\nE01000001,2024-02-30\nE01000001,31/13/2024\n"
                                     "E01000001,unknown\nE01000002,unknown\nE01000002,2024-05-01\n"
                                     "E01000002,last May\n")
    result = run(fixture_store, path)
    assert reasons(result) == {
        2: "date '2024-02-30' is not a day of the calendar (February 2024 has 29 days)",
        3: "date '31/13/2024' is not a day of the calendar (there is no month 13)",
        4: "date 'unknown' is not a date", 5: "date 'unknown' is not a date",
        7: "date 'last May' is not a date"}
    summary = {r["kind"]: r for r in result.report["reasons"]}
    assert summary["date is not a day of the calendar"]["rows"] == 2
    assert [v["value"] for v in summary["date is not a day of the calendar"]["values"]] == ["2024-02-30", "31/13/2024"]
    assert summary["date is not a date"]["values"] == [{"value": "unknown", "rows": 2}, {"value": "last May", "rows": 1}]
    text = format_report(result.report, "d")
    assert "rejected 2 row(s) [date]: date is not a day of the calendar: '2024-02-30', '31/13/2024'" in text
    assert "rejected 3 row(s) [date]: date is not a date: 'unknown' (2 rows), 'last May'" in text
    assert_reconciles(result.report)


# ---- title rows above the header ---------------------------------------------------------------

def _titled_workbook(path, rows):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_xlsx_with_title_rows_finds_its_header_and_says_which_row(fixture_store, tmp_path):
    path = _titled_workbook(tmp_path / "t.xlsx", [
        ["Emergency admissions by LSOA of residence, 2023/24"], ["Source: SUS+, extracted 04/12/2026"], [],
        ["LSOA code", "LSOA name", "Admissions"],
        ["E01000001", "Alphaton 001A", 10], ["E01000002", "Alphaton 001B", "n/a"], ["E01000007", "Betaford 002A", 3]])
    result = run(fixture_store, path, columns={"lsoa": "LSOA code", "count": "Admissions"})
    assert result.counts.set_index("lsoa21cd")["count"].to_dict() == {"E01000001": 10, "E01000007": 3}
    assert reasons(result) == {6: "count 'n/a' is not a number"}  # the sheet's own row number
    assert result.report["header_row"] == 4 and result.meta["format"]["header_row"] == 4
    assert result.report["notes"][0] == ("row 4 was taken as the header, found below the title rows (--header-row N "
                                         "chooses another): rows 1-3 above it (titles or blank) were not read as data")
    assert "note: row 4 was taken as the header" in format_report(result.report, "t")
    assert_reconciles(result.report)


def test_csv_with_a_title_row_and_the_header_row_given(fixture_store, tmp_path):
    text = "Admissions 2023/24\nLSOA,Count\nE01000001,4\nE01000002,x\n"
    found = run(fixture_store, write(tmp_path / "t.csv", text))
    assert found.report["header_row"] == 2 and found.report["rows_read"] == 2
    assert reasons(found) == {4: "count 'x' is not a number"}
    given = run(fixture_store, write(tmp_path / "g.csv", text), header_row=2)
    assert given.report["notes"][0].startswith("row 2 was taken as the header, as asked (--header-row 2): row 1 above")
    assert given.counts["count"].sum() == 4
    plain = run(fixture_store, write(tmp_path / "p.csv", "LSOA,Count\nE01000001,4\n"))
    assert plain.report["header_row"] == 1 and not any("header" in n for n in plain.report["notes"])


def test_header_row_that_cannot_be_the_header_is_refused(fixture_store, tmp_path):
    path = write(tmp_path / "h.csv", "Title\n\nLSOA,Count\nE01000001,4\n")
    with pytest.raises(IngestError, match=r"^h.csv: row 2 is empty, so it cannot be the header; give the row the "
                                          r"column names are on$"):
        run(fixture_store, path, header_row=2)
    with pytest.raises(IngestError, match=r"^h.csv: the file has 4 row\(s\) in its first 20; row 9 cannot be"):
        run(fixture_store, path, header_row=9)
    assert run(fixture_store, path).report["header_row"] == 3


def test_records_csv_with_title_rows_keeps_file_row_numbers(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", "A&E attendances\nExtracted 2026-12-04,\nlsoa21cd,arrival_date\n"
                                     "E01000001,2024-05-01\nE01000001,2024-02-30\nE01000002,2024-05-02,extra\n"
                                     "E01000002,2024-05-03\n")
    result = run(fixture_store, path)
    assert reasons(result) == {5: "date '2024-02-30' is not a day of the calendar (February 2024 has 29 days)",
                               6: "the row has 3 fields; the header has 2"}
    assert result.report["rows_read"] == 4 and result.report["rows_used"] == 2


# ---- wide files: a count column per period or per group ----------------------------------------

WIDE_PERIODS = ("LSOA,2021/22,2022/23,2023/24\n"
                "E01000001,4,5,6\n"
                "E01000002,1,,x\n"
                "E01009999,2,2,2\n")


def test_wide_file_is_refused_naming_the_option_that_reads_it(fixture_store, tmp_path):
    path = write(tmp_path / "w.csv", WIDE_PERIODS)
    with pytest.raises(IngestError, match=r"^w.csv: the file has a column per period \(2021/22, 2022/23, 2023/24\): "
                                          r"it is a wide file, with several counts in each row. Give --wide period "
                                          r"to read each of these columns as the count of its period \(one row per "
                                          r"LSOA and period\)$"):
        run(fixture_store, path)
    sexes = write(tmp_path / "s.csv", "LSOA,Male,Female,Total\nE01000001,1,2,3\n")
    with pytest.raises(IngestError, match=r"a column per sex \(Male, Female\).*Give --wide sex .*; or, to use only "
                                          r"the column 'Total', name it with --column count=Total$"):
        run(fixture_store, sexes)
    # the count column named: the file is read by it, as asked
    assert run(fixture_store, sexes, columns={"count": "Total"}).counts["count"].sum() == 3
    with pytest.raises(IngestError, match=r"^s.csv: --wide period: no column names look like periods"):
        run(fixture_store, sexes, wide="period")


def test_wide_csv_by_period_is_read_long_with_each_cell_checked(fixture_store, tmp_path):
    path = write(tmp_path / "w.csv", WIDE_PERIODS)
    result = run(fixture_store, path, wide="period")
    got = {(r.lsoa21cd, r.period): r.count for r in result.counts.itertuples()}
    assert got == {("E01000001", "2021/22"): 4, ("E01000001", "2022/23"): 5, ("E01000001", "2023/24"): 6,
                   ("E01000002", "2021/22"): 1}
    rows = result.rows_not_used
    assert [(r.row, r.column, r.reason) for r in rows.itertuples()] == [
        (3, "2022/23", "count is empty"), (3, "2023/24", "count 'x' is not a number"),
        *[(4, "LSOA", "unknown or retired LSOA code (neither a 2021 LSOA nor a 2011 LSOA in ONS's lookup)")] * 3]
    r = result.report
    assert r["rows_read"] == 9 and r["rows_used"] == 4 and r["breakdowns"] == ["period"]
    assert r["wide"] == {"breakdown": "period", "columns": ["2021/22", "2022/23", "2023/24"], "file_rows": 3}
    assert r["notes"][0].startswith("a wide file: 3 rows x 3 period columns (2021/22, 2022/23, 2023/24) read as 9 "
                                    "rows, one per LSOA and period (--wide period)")
    assert result.meta["years_of_data"] == 3
    assert_reconciles(r)


def test_wide_by_sex_leaves_the_total_out(fixture_store, tmp_path):
    path = write(tmp_path / "s.csv", "LSOA code,Men,Women,All persons\nE01000001,1,2,3\nE01000007,4,5,9\n")
    result = run(fixture_store, path, wide="sex")
    got = {(r.lsoa21cd, r.sex): r.count for r in result.counts.itertuples()}
    assert got == {("E01000001", "male"): 1, ("E01000001", "female"): 2, ("E01000007", "male"): 4,
                   ("E01000007", "female"): 5}
    assert result.report["notes"][0].endswith("Not read: All persons (a total of the others would count them twice)")


def test_wide_xlsx_with_title_rows(fixture_store, tmp_path):
    path = _titled_workbook(tmp_path / "w.xlsx", [
        ["Admissions by financial year"], [], ["LSOA", "FY2022-23", "FY2023-24"],
        ["E01000001", 3, 4], ["E01000008", 7, "*"]])
    result = run(fixture_store, path, wide="period")
    assert {(r.lsoa21cd, r.period): r.count for r in result.counts.itertuples()} == {
        ("E01000001", "2022/23"): 3, ("E01000001", "2023/24"): 4, ("E01000008", "2022/23"): 7}
    assert reasons(result) == {5: "count '*' is not a number"}
    assert result.rows_not_used["column"].tolist() == ["FY2023-24"]
    assert result.report["header_row"] == 3


# ---- breakdowns a file has but were not asked for ----------------------------------------------

def test_records_with_a_breakdown_column_not_kept_say_so(fixture_store, tmp_path):
    path = write(tmp_path / "r.csv", "lsoa21cd,Sex,Ethnic_Category,Age\nE01000001,1,A,34\nE01000002,2,H,7\n")
    result = run(fixture_store, path, by=("sex",))
    assert [n for n in result.report["notes"] if "not kept" in n] == [(
        "the file has columns for age (Age); ethnic group (Ethnic_Category), not kept as breakdowns "
        "(--by sex,age_band,ethnic_group keeps them): no rates by age or ethnic group can be shown for this dataset")]
    kept = run(fixture_store, path, by=("sex", "age_band", "ethnic_group"))
    assert not any("not kept" in n for n in kept.report["notes"])


def test_describe_file_says_what_the_upload_form_can_fill_in(tmp_path):
    from geo.ingest.pipeline import describe_file

    path = write(tmp_path / "r.csv", "Extract of A&E attendances\n\nLSOA,Gender,Ethnic_Category,Arrival_Date\n"
                                     "E01000001,1,A,2024-05-01\n")
    described = describe_file(path)
    assert described["header_row"] == 3 and described["shape"] == "records"
    assert described["breakdowns"] == {"sex": ["Gender"], "ethnic_group": ["Ethnic_Category"]}
    assert described["roles"]["date"] == "Arrival_Date" and described["wide"] == {}
    wide = describe_file(write(tmp_path / "w.csv", WIDE_PERIODS))
    assert wide["wide"] == {"period": ["2021/22", "2022/23", "2023/24"]} and wide["shape"] == "aggregated"

"""Ingest limits (issue 11 item 4): every file over a limit is refused before it is parsed, with a
message naming the file, the limit and the setting; the list of rows not used is capped."""
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from geo.store.datasets import DatasetStore
from geo.ingest.pipeline import IngestError, IngestOptions, format_report, ingest
from geo.ingest.limits import IngestLimits


def _zip_bomb(path, rows: int):
    """A real XLSX (made with openpyxl) whose sheet is replaced by one of ``rows`` rows: a few hundred
    KB on disk that unpack to tens of MB, the shape of the 4.9 MB -> 20M rows bomb of issue 11."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["lsoa21cd", "count"])
    plain = path.with_name("plain.xlsx")
    book.save(plain)
    row = '<row><c t="inlineStr"><is><t>E01000001</t></is></c><c><v>1</v></c></row>'
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                out.writestr(item, src.read(item.filename))
                continue
            with out.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
                            b'.org/spreadsheetml/2006/main"><sheetData><row><c t="inlineStr"><is><t>lsoa21cd</t>'
                            b'</is></c><c t="inlineStr"><is><t>count</t></is></c></row>')
                block = (row * 10_000).encode()
                for _ in range(rows // 10_000):
                    sheet.write(block)
                sheet.write(b"</sheetData></worksheet>")
    return path


def test_xlsx_zip_bomb_is_refused_before_it_is_opened(fixture_store, tmp_path, monkeypatch):
    bomb = _zip_bomb(tmp_path / "bomb.xlsx", 600_000)
    unpacked = sum(m.file_size for m in zipfile.ZipFile(bomb).infolist())
    assert bomb.stat().st_size < 500_000 and unpacked > 40_000_000  # a real bomb: over 80 times its size
    monkeypatch.setenv("GAPMAP_MAX_XLSX_MB", "20")  # the default (50) is above this small bomb's 43 MB
    import openpyxl

    def never(*args, **kwargs):
        raise AssertionError("openpyxl opened the bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    started = time.perf_counter()
    with pytest.raises(IngestError) as refused:
        ingest(bomb, IngestOptions(name="bomb"), fixture_store)
    assert time.perf_counter() - started < 2
    message = str(refused.value)
    assert "bomb.xlsx" in message and "unpacks to" in message and "20 MB" in message
    assert "GAPMAP_MAX_XLSX_MB" in message
    assert "bomb" not in DatasetStore(fixture_store).names()


def test_xlsx_rows_are_capped(fixture_store, tmp_path, monkeypatch):
    frame = pd.DataFrame({"lsoa21cd": ["E01000001"] * 30, "count": range(30)})
    path = tmp_path / "long.xlsx"
    frame.to_excel(path, index=False)
    monkeypatch.setenv("GAPMAP_MAX_ROWS", "20")
    with pytest.raises(IngestError, match=r"long\.xlsx: the sheet has more than 20 rows.*GAPMAP_MAX_ROWS"):
        ingest(path, IngestOptions(name="long-xlsx"), fixture_store)


def test_csv_rows_columns_and_size_limits(fixture_store, tmp_path, monkeypatch):
    path = tmp_path / "many.csv"
    path.write_text("lsoa21cd,count\n" + "E01000001,1\n" * 50)
    monkeypatch.setenv("GAPMAP_MAX_ROWS", "49")
    with pytest.raises(IngestError, match=r"many\.csv: the file has more than 49 lines.*GAPMAP_MAX_ROWS"):
        ingest(path, IngestOptions(name="many"), fixture_store)
    monkeypatch.setenv("GAPMAP_MAX_ROWS", "50")
    assert ingest(path, IngestOptions(name="many-ok"), fixture_store).report["rows_read"] == 50
    DatasetStore(fixture_store).remove("many-ok")

    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["lsoa21cd", "count"] + [f"c{i}" for i in range(20)]) + "\n")
    monkeypatch.setenv("GAPMAP_MAX_COLUMNS", "10")
    with pytest.raises(IngestError, match=r"wide\.csv: the file has 22 columns, over the limit of 10"):
        ingest(wide, IngestOptions(name="wide"), fixture_store)

    big = tmp_path / "big.csv"
    big.write_text("lsoa21cd,count\n" + "E01000001,1\n" * 200_000)  # 2.4 MB
    monkeypatch.setenv("GAPMAP_MAX_FILE_MB", "1")
    with pytest.raises(IngestError, match=r"big\.csv: the file is 2 MB, over the limit of 1 MB \(GAPMAP_MAX_FILE_MB\)"):
        ingest(big, IngestOptions(name="big"), fixture_store)


def test_parquet_rows_from_its_metadata(fixture_store, tmp_path, monkeypatch):
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"lsoa21cd": ["E01000001"] * 30, "count": np.arange(30)}).to_parquet(path)
    monkeypatch.setenv("GAPMAP_MAX_ROWS", "10")
    with pytest.raises(IngestError, match=r"rows\.parquet: the file has 30 rows, over the limit of 10"):
        ingest(path, IngestOptions(name="rows"), fixture_store)


def test_a_parquet_that_unpacks_too_far_is_refused(fixture_store, tmp_path, monkeypatch):
    path = tmp_path / "packed.parquet"
    pd.DataFrame({"lsoa21cd": ["E01000001"] * 3, "count": ["1" + " " * 1_000_000] * 3}).to_parquet(
        path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("GAPMAP_MAX_FILE_MB", "2")
    with pytest.raises(IngestError, match=r"packed\.parquet: the data unpacks to 3 MB, over the limit of 2 MB"):
        ingest(path, IngestOptions(name="packed"), fixture_store)


def test_bad_limit_settings_are_refused(monkeypatch):
    monkeypatch.setenv("GAPMAP_MAX_ROWS", "lots")
    with pytest.raises(ValueError, match="GAPMAP_MAX_ROWS"):
        IngestLimits.from_env()
    monkeypatch.setenv("GAPMAP_MAX_ROWS", "0")
    with pytest.raises(ValueError, match="above 0"):
        IngestLimits.from_env()


def test_rows_not_used_are_listed_up_to_the_limit_then_summarised(fixture_store, tmp_path, monkeypatch):
    lines = ["lsoa21cd,count", "E01000001,5"] + ["W01000001,3"] * 6 + ["E01000002,x"] * 4
    path = tmp_path / "rejects.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("GAPMAP_MAX_LISTED_ROWS", "3")
    result = ingest(path, IngestOptions(name="rejects"), fixture_store)
    report = result.report
    assert report["rows_read"] == 11 and report["rows_rejected"] == 10  # the totals still count every row
    assert sum(r["rows"] for r in report["reasons"]) == 10
    stored = DatasetStore(fixture_store).get("rejects").rows_not_used()
    assert len(stored) == 3 and stored["row"].tolist() == ["3", "4", "5"]  # the first ones, in file order
    rest = report["rows_not_listed"]
    assert rest["limit"] == 3 and rest["rows"] == 7 and sum(r["rows"] for r in rest["reasons"]) == 7
    assert {r["rows"] for r in rest["reasons"]} == {3, 4}  # 3 more Welsh codes, 4 bad counts
    assert "only the first 3 rows not used are listed" in format_report(report, "rejects")
    assert "the other 7 are counted by reason" in format_report(report, "rejects")
    DatasetStore(fixture_store).remove("rejects")


def test_a_huge_header_line_is_refused(fixture_store, tmp_path):
    path = tmp_path / "oneline.csv"
    path.write_text("a" * 2_000_000 + "\n1\n")
    with pytest.raises(IngestError, match=r"oneline\.csv: the first line \(the header\) is longer than"):
        ingest(path, IngestOptions(name="oneline"), fixture_store)
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('lsoa21cd,"count\nE01000001,1\n')  # a quote left open: the header never ends
    with pytest.raises(IngestError):
        ingest(quoted, IngestOptions(name="quoted"), fixture_store)


def test_a_zip_bomb_uploaded_on_the_web_is_refused_with_its_name(fixture_store, tmp_path, monkeypatch):
    from app import create_app
    from tests.test_security import token_of

    bomb = _zip_bomb(tmp_path / "bomb.xlsx", 600_000)
    monkeypatch.setenv("GAPMAP_MAX_XLSX_MB", "20")
    client = create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True,
                         "ACCOUNTS": str(tmp_path / "a.sqlite")}).test_client()
    started = time.perf_counter()
    response = client.post("/upload", content_type="multipart/form-data",
                           data={"file": (bomb.open("rb"), "Admissions 2024.xlsx"), "name": "web-bomb",
                                 "csrf_token": token_of(client)})
    assert time.perf_counter() - started < 5
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "unpacks to" in text and "GAPMAP_MAX_XLSX_MB" in text
    assert "Admissions_2024.xlsx" in text and "/tmp" not in text
    assert "web-bomb" not in DatasetStore(fixture_store).names()

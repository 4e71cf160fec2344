"""Record files ingested in chunks (geo/ingest/streaming.py) give the same dataset and report as in
one piece: record ids repeated across chunks, rows the parser skipped, postcodes and 2011 codes,
whatever the chunk size. The reference is the same file read as Parquet (read whole, never
streamed) and, for duplicates, pandas over the whole file."""
import csv

import numpy as np
import pandas as pd
import pytest

from geo.ingest import synthetic
from geo.ingest.pipeline import IngestOptions, ingest
from geo.ingest.streaming import SeenIds

import pyarrow as pa


def _compare(chunked, whole):
    pd.testing.assert_frame_equal(chunked.counts, whole.counts, check_exact=False, rtol=1e-12)
    a = chunked.rows_not_used.astype({"row": "int64", "count": "float64"})
    b = whole.rows_not_used.astype({"row": "int64", "count": "float64"})
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)
    ra, rb = dict(chunked.report), dict(whole.report)
    for key in ("counts_read", "counts_used", "counts_rejected", "counts_stored"):
        assert ra.pop(key) == pytest.approx(rb.pop(key))
    assert ra == rb


@pytest.fixture
def dirty_extract(fixture_store, tmp_path):
    table, meta = synthetic.generate(fixture_store, "E54000001", rows=3000, seed=5, dirty=0.1)
    return table, meta, synthetic.write(table, meta, tmp_path / "ae.csv"), synthetic.write(table, meta,
                                                                                         tmp_path / "ae.parquet")


@pytest.mark.parametrize("chunk", [1, 7, 500, 10_000_000])
def test_chunked_equals_whole(fixture_store, dirty_extract, monkeypatch, chunk):
    table, meta, csv_path, parquet_path = dirty_extract
    by = ("age_band", "sex", "ethnic_group", "period")
    whole = ingest(parquet_path, IngestOptions(name="whole", by=by), fixture_store)
    monkeypatch.setenv("GAPMAP_INGEST_CHUNK_ROWS", str(chunk))
    chunked = ingest(csv_path, IngestOptions(name="chunked", by=by), fixture_store)
    whole.report["codes"] = dict(whole.report["codes"])
    _compare(chunked, whole)
    r = chunked.report
    assert r["rows_read"] == 3000 == r["rows_used"] + r["rows_rejected"]
    # every repeat of an earlier id, across chunks, is rejected or was rejected for another reason
    ids = pd.Series(table["EC_Ident"].to_pylist())
    repeats = set((np.flatnonzero(ids.duplicated().to_numpy()) + 2).tolist())
    marked = chunked.rows_not_used
    duplicates = set(marked.loc[marked["reason"] == "duplicate record id", "row"].astype(int))
    assert duplicates and duplicates <= repeats
    rejected = set(marked.loc[~marked["used"].astype(str).isin(["True", "true"]), "row"].astype(int))
    assert repeats <= rejected


def test_skipped_lines_and_text_ids_across_chunks(fixture_store, tmp_path, monkeypatch):
    rows = [["id", "lsoa21cd", "age"]]
    for i in range(40):
        rows.append([f"X{i % 25}", f"E0100000{1 + i % 8}", str(i)])
    lines = [",".join(r) for r in rows]
    lines.insert(5, "broken,row")  # line 6 of the file
    lines.insert(30, "a,b,c,d")  # line 31
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("GAPMAP_INGEST_CHUNK_ROWS", "4")
    result = ingest(path, IngestOptions(name="txt", columns={"record_id": "id"}, by=("age_band",)), fixture_store)
    frame = result.rows_not_used
    why = dict(zip(frame["row"].astype(int), frame["reason"]))
    assert why[6].startswith("the row has 2 fields") and why[31].startswith("the row has 4 fields")
    # the file rows of repeated ids, counted independently with the csv module
    with open(path, newline="") as fh:
        seen, expected = set(), []
        for number, row in enumerate(csv.reader(fh), start=1):
            if number == 1 or len(row) != 3:
                continue
            if row[0] in seen:
                expected.append(number)
            seen.add(row[0])
    assert sorted(r for r, w in why.items() if w == "duplicate record id") == expected
    r = result.report
    assert r["rows_read"] == 42 and r["rows_used"] == 25 and r["rows_rejected"] == 17
    assert result.counts["count"].sum() == 25


def test_seen_ids_across_chunks():
    seen = SeenIds()
    first = seen.duplicated(pa.chunked_array([pa.array([5, 3, 5, 9], pa.int64())]))
    second = seen.duplicated(pa.chunked_array([pa.array([1, 9, 1, 4, 3], pa.int64())]))
    assert first.tolist() == [False, False, True, False]
    assert second.tolist() == [False, True, True, False, True]
    assert seen.seen.tolist() == [1, 3, 4, 5, 9]
    text = SeenIds()
    assert text.duplicated(pa.chunked_array([pa.array(["a", "b", "a"])])).tolist() == [False, False, True]
    assert text.duplicated(pa.chunked_array([pa.array(["c", "b"])])).tolist() == [False, True]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_large_demo_files_are_written_in_pieces(fixture_store, tmp_path, suffix):
    """Pieces make one extract: ids distinct except where spoiled on purpose, the sidecar labels
    it, the first piece is the small file of the same seed, and it ingests and reconciles."""
    path, meta = synthetic.write_in_pieces(fixture_store, "E54000001", 2500, tmp_path / f"big{suffix}", seed=3,
                                           dirty=0.02, piece=1000)
    frame = pd.read_csv(path, dtype=str) if suffix == ".csv" else pd.read_parquet(path).astype(str)
    assert len(frame) == 2500 and list(frame.columns) == list(synthetic.COLUMNS)
    assert frame["EC_Ident"].duplicated().sum() <= meta["spoiled_rows"]["duplicate_id"]
    assert meta["synthetic"] is True and sum(meta["spoiled_rows"].values()) == 50
    first, _ = synthetic.generate(fixture_store, "E54000001", 1000, seed=3, dirty=0.02)
    assert frame["EC_Ident"].iloc[:1000].tolist() == [str(i) for i in first["EC_Ident"].to_pylist()]
    result = ingest(path, IngestOptions(name="big"), fixture_store)
    r = result.report
    assert r["rows_read"] == 2500 == r["rows_used"] + r["rows_rejected"] and result.meta["synthetic"] is True


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_small_blocks_equal_whole(fixture_store, dirty_extract, tmp_path, monkeypatch, encoding):
    """The file cut into blocks of a few lines (geo.ingest.reading.stream_csv), whatever its
    encoding and with a title row above the header and rows the parser cannot split, gives the
    dataset and report of the file read whole."""
    from geo.ingest import reading

    table, meta, _, parquet_path = dirty_extract
    frame = table.to_pandas().astype(str)
    frame.loc[7, "Ethnic_Category"] = "Autre – café"  # text that is not ASCII, listed as not recognised
    lines = ["Synthetic A&E attendances", ",".join(frame.columns)]
    lines += [",".join(r) for r in frame.itertuples(index=False)]
    lines.insert(40, "broken,row")  # file line 41
    path = tmp_path / "ae.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    clean = tmp_path / "ae-whole.csv"
    clean.write_text("\n".join(lines) + "\n", encoding="utf-8")
    by = ("age_band", "sex", "ethnic_group", "period")
    whole = ingest(clean, IngestOptions(name="whole", by=by), fixture_store)
    monkeypatch.setattr(reading, "STREAM_BLOCK_BYTES", 97)
    monkeypatch.setenv("GAPMAP_INGEST_CHUNK_ROWS", "13")
    blocks = ingest(path, IngestOptions(name="blocks", by=by), fixture_store)
    assert blocks.report["header_row"] == 2 and blocks.report["rows_read"] == 3001
    listed = blocks.rows_not_used.set_index(blocks.rows_not_used["row"].astype(int))
    assert listed.loc[41, "reason"] == "the row has 2 fields; the header has 6"
    assert listed.loc[10, "value"] == "Autre – café"  # file row 10: table row 7 below the title and header
    _compare(blocks, whole)


def test_seen_ids_equal_pandas_duplicated():
    """Whole-number ids kept as runs find exactly the repeats pandas finds over the whole column,
    however the ids are ordered and cut into chunks; sequential ids take one run."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        ids = rng.integers(0, rng.integers(2, 80), size=rng.integers(1, 120))
        if rng.random() < 0.3:
            ids = np.sort(ids)
        cuts = np.sort(rng.integers(0, len(ids), size=rng.integers(0, 5)))
        seen = SeenIds()
        found = np.concatenate([seen.duplicated(pa.chunked_array([pa.array(p, pa.int64())]))
                                for p in np.split(ids, cuts)])
        assert found.tolist() == pd.Series(ids).duplicated().tolist()
        assert seen.seen.tolist() == sorted(set(ids.tolist()))
    seen = SeenIds()
    for start in range(0, 10_000, 1000):
        seen.duplicated(pa.chunked_array([pa.array(np.arange(start, start + 1000), pa.int64())]))
    assert len(seen.starts) == 1 and (seen.starts[0], seen.ends[0]) == (0, 9999)

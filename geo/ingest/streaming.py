"""Record files (one row per event) read in chunks, so that memory does not grow with the file.

A CSV file of records is read in chunks of at most ``GAPMAP_INGEST_CHUNK_ROWS`` rows (1 million by
default) and at most one block of the file (:data:`geo.ingest.reading.STREAM_BLOCK_BYTES`, 32 MB),
parsed by Arrow on every core while the chunk before is checked
(:func:`geo.ingest.reading.stream_csv`). Each chunk is checked and counted by the same code as a
whole file (``_ingest_lsoa`` in :mod:`geo.ingest.pipeline`); the counts are summed into one table
as the chunks go, as numbers (:class:`geo.ingest.tally.Tally`), and the reports add up: rows read =
used + rejected, counts read = used + rejected, over the whole file, with every unused row listed
by its file row. What a chunk cannot know alone is carried across chunks:

* a record id repeated from an earlier chunk (:class:`SeenIds`: the ids seen so far; whole-number
  ids exactly, as sorted runs of consecutive ids, text ids by a sorted 64-bit hash of the text, so
  two different text ids would be taken for one with a chance of about n^2 / 2^65: 1 in 3,700 for
  100 million ids);
* the file row of each row, and of the rows the parser could not split (found in one more pass
  at the end, only when there are any);
* the store's LSOA index, lookup and postcode-area tables, read once (:class:`_ReadOnce`; the
  LSOA index begun in another thread while the first block is parsed).

Memory is bounded by two blocks of the file and one chunk, the counts (LSOAs x breakdowns), the
record ids (a few runs for ids numbered in order; 8 bytes a record for text ids or ids in no
order) and the list of rows not used (about 110 bytes a row).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.ingest.reading import InputTable, UnreadableFile, _RetryAsText, stream_csv
from geo.ingest.report import IngestError, IngestResult, reason_summary
from geo.ingest.tally import Tally

DEFAULT_CHUNK_ROWS = 1_000_000


def chunk_rows() -> int:
    value = os.environ.get("GAPMAP_INGEST_CHUNK_ROWS", "").strip()
    return max(1, int(value)) if value else DEFAULT_CHUNK_ROWS


class SeenIds:
    """Record ids of the chunks read so far, to find repeats across chunks.

    Whole-number ids are kept as sorted runs of consecutive ids (``starts``, ``ends``): an extract
    numbers its records in order, so ten million ids are a handful of runs and memory does not grow
    with the file. Text ids are kept as sorted 64-bit hashes (8 bytes an id)."""

    def __init__(self):
        self.starts = np.empty(0, dtype=np.int64)  # whole-number ids: first id of each run
        self.ends = np.empty(0, dtype=np.int64)  # and its last id (inclusive)
        self.hashes = np.empty(0, dtype=np.uint64)  # text ids: sorted hashes

    @property
    def seen(self) -> np.ndarray:
        """Every id seen so far, sorted (whole numbers; text ids as their hashes). For inspection:
        it expands the runs."""
        if len(self.hashes):
            return self.hashes
        if not len(self.starts):
            return np.empty(0, dtype=np.int64)
        return np.concatenate([np.arange(a, b + 1, dtype=np.int64) for a, b in zip(self.starts, self.ends)])

    def duplicated(self, ids: pa.ChunkedArray) -> np.ndarray:
        """True for each row whose id appeared earlier (in this chunk or an earlier one)."""
        if pa.types.is_integer(ids.type):
            return self._whole_numbers(ids.to_numpy().astype(np.int64))
        return self._text(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object))

    def _whole_numbers(self, values: np.ndarray) -> np.ndarray:
        within, distinct = _repeats_in_order(values)
        earlier = self._in_runs(values)
        new = distinct[~self._in_runs(distinct)]
        if len(new):
            self._add_runs(new)
        return within | earlier

    def _in_runs(self, values: np.ndarray) -> np.ndarray:
        if not len(self.starts) or not len(values):
            return np.zeros(len(values), dtype=bool)
        at = np.searchsorted(self.starts, values, side="right") - 1
        return (at >= 0) & (values <= self.ends[np.maximum(at, 0)])

    def _add_runs(self, new: np.ndarray) -> None:
        """Add sorted distinct ids, as runs, merging runs that touch or overlap."""
        breaks = np.flatnonzero(np.diff(new) != 1) + 1
        starts = np.concatenate([self.starts, new[np.concatenate([[0], breaks])]])
        ends = np.concatenate([self.ends, new[np.concatenate([breaks - 1, [len(new) - 1]])]])
        if len(self.starts) and new[0] < self.starts[-1]:  # not simply after the runs so far
            order = np.argsort(starts, kind="stable")  # two sorted runs: timsort merges them in linear time
            starts, ends = starts[order], ends[order]
        reach = np.maximum.accumulate(ends)
        begins = np.concatenate([[0], np.flatnonzero(starts[1:] > reach[:-1] + 1) + 1])
        self.starts, self.ends = starts[begins], np.maximum.reduceat(ends, begins)

    def _text(self, text: np.ndarray) -> np.ndarray:
        keys = pd.util.hash_array(text, categorize=False)
        within = pd.Series(text).duplicated().to_numpy()
        earlier = np.zeros(len(keys), dtype=bool)
        if len(self.hashes) and len(keys):
            at = np.minimum(np.searchsorted(self.hashes, keys), len(self.hashes) - 1)
            earlier = self.hashes[at] == keys
        new = keys[~earlier & ~within]  # the first occurrence of each id not seen before
        if len(new):
            new = np.sort(new)
            if not len(self.hashes) or new[0] > self.hashes[-1]:
                self.hashes = np.concatenate([self.hashes, new])
            else:
                self.hashes = np.sort(np.concatenate([self.hashes, new]), kind="stable")
        return within | earlier


def _repeats_in_order(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(True for every repeat of an earlier value, the distinct values sorted), by one comparison of
    neighbours when the values never go down (as extracts are numbered), else by a stable sort."""
    if len(values) < 2:
        return np.zeros(len(values), dtype=bool), np.unique(values)
    if (values[1:] >= values[:-1]).all():
        repeat = np.concatenate([[False], values[1:] == values[:-1]])
        return repeat, values[~repeat]
    order = np.argsort(values, kind="stable")  # nearly sorted: timsort is quick
    ordered = values[order]
    same = ordered[1:] == ordered[:-1]
    repeat = np.zeros(len(values), dtype=bool)
    repeat[order[1:][same]] = True
    return repeat, ordered[np.concatenate([[True], ~same])]


class _ReadOnce:
    """The store, with the whole-table reads that each chunk would repeat made once (and possibly
    begun in another thread: a read asked for while it is under way is waited for, not made again)."""

    def __init__(self, store):
        self._store = store
        self._memo: dict = {}  # key -> Future of its value
        self._lock = threading.Lock()

    def once(self, key, read):
        """``read()``, made the first time ``key`` is asked for and kept."""
        with self._lock:
            future = self._memo.get(key)
            mine = future is None
            if mine:
                future = self._memo[key] = Future()
        if mine:
            try:
                future.set_result(read())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def lsoas(self, **kwargs):
        key = ("lsoas", repr(sorted(kwargs.items())))
        return self.once(key, lambda: self._store.lsoas(**kwargs))

    def lsoa11_to_lsoa21(self):
        return self.once("lookup", self._store.lsoa11_to_lsoa21)

    def postcodes(self, keys=None, geometry=True):
        if keys is not None:
            return self._store.postcodes(keys, geometry=geometry)
        return self.once(("postcodes", geometry), lambda: self._store.postcodes(geometry=geometry))

    def __getattr__(self, name):
        return getattr(self._store, name)


def ingest_streamed(info: InputTable, mapping: dict, options, store, plan, ingest_table, ahead=None) -> IngestResult:
    """Ingest a CSV file of records chunk by chunk; ``plan`` and ``ingest_table`` are the
    pipeline's column check and per-table ingest (passed in: this module sits below it).
    ``ahead(store)``, if given, is begun in another thread while the first block is parsed: the
    store's reads every chunk needs (through the store's ``once``)."""
    by, wanted, plain = plan(info, "records", mapping, options)
    cached = _ReadOnce(store)
    with ThreadPoolExecutor(max_workers=1) as pool:
        if ahead is not None:
            pool.submit(ahead, cached)  # its result (or error) is the store's, asked for by the chunks
        try:
            return _run(info, mapping, options, cached, wanted, plain, False, ingest_table)
        except _RetryAsText:  # the record ids are not all whole numbers: read them as text
            return _run(info, mapping, options, cached, wanted, plain, True, ingest_table)


def _run(info, mapping, options, cached, wanted, plain, plain_as_text, ingest_table) -> IngestResult:
    seen = SeenIds() if "record_id" in mapping else None
    tally: Tally | None = None
    columns: list[str] = []
    empty: pd.DataFrame | None = None
    rows_not_used: list[pd.DataFrame] = []
    reports: list[dict] = []
    try:
        for chunk in stream_csv(info, wanted, plain, plain_as_text, chunk_rows()):
            part = ingest_table(chunk, "records", mapping, options, cached, seen_ids=seen, streamed=True)
            reports.append(part.report)
            if len(part.rows_not_used):
                rows_not_used.append(part.rows_not_used)
            if tally is None:  # an age band's bounds go with it, so they are keys too
                columns = list(part.counts.columns)
                tally = Tally([c for c in columns if c not in SUMMED], [c for c in columns if c in SUMMED])
                empty = part.counts.frame().iloc[:0]
            tally.add_coded(part.counts)  # the chunk's sums, as numbers (geo.ingest.tally.Coded)
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None
    counts = tally.frame()[columns] if tally.dtypes is not None else empty  # no row used: no types to mix
    return _combine(info, counts, rows_not_used, reports, mapping)


SUMMED = ("count", "denominator")  # the counts' value columns; the others are keys


def _combine(info: InputTable, counts: pd.DataFrame, parts: list[pd.DataFrame], reports: list[dict],
             mapping: dict) -> IngestResult:
    columns = ["row", "column", "value", "reason", "used", "count"]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    if info.skipped_lines and len(rows):  # chunk rows were numbered as if no row had been skipped
        rows["row"] = info.row_number(rows["row"].to_numpy(dtype=np.int64) - 1 - info.header_row)
    if info.bad_rows:
        bad = pd.DataFrame({"row": [b[0] for b in info.bad_rows], "column": "", "reason": [b[2] for b in info.bad_rows],
                            "value": [b[1][:200] for b in info.bad_rows], "used": False, "count": np.nan})[columns]
        rows = pd.concat([rows, bad], ignore_index=True) if len(rows) else bad
    if len(rows):
        rows = rows.sort_values(["row", "used"], kind="stable").reset_index(drop=True)
    total = {k: sum(r[k] for r in reports) for k in ("rows_read", "rows_used", "rows_rejected", "rows_flagged",
                                                      "counts_read", "counts_used", "counts_rejected")}
    codes = {k: sum(r["codes"][k] for r in reports) for k in reports[0]["codes"]}
    ranges = [r["date_range"] for r in reports if r["date_range"]]
    report = {
        "rows_read": int(total["rows_read"] + len(info.bad_rows)),
        "rows_used": int(total["rows_used"]),
        "rows_rejected": int(total["rows_rejected"] + len(info.bad_rows)),
        "rows_flagged": int(total["rows_flagged"]),
        "counts_read": float(total["counts_read"]),
        "counts_used": float(total["counts_used"]),
        "counts_rejected": float(total["counts_rejected"]),
        "counts_stored": float(counts["count"].sum()) if len(counts) else 0.0,
        "codes": codes,
        "reasons": reason_summary(rows),
        "date_range": (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None,
        "lsoas": int(counts["lsoa21cd"].nunique()) if len(counts) else 0,
        "breakdowns": reports[0]["breakdowns"],
        "notes": reports[0].get("notes") or [],
    }
    if any("denominators_used" in r for r in reports):  # records with an outcome flag: the rows counted
        report["denominators_used"] = float(sum(r.get("denominators_used", 0.0) for r in reports))
    return IngestResult(report, rows, counts=counts.reset_index(drop=True), columns=mapping)


__all__ = ["SeenIds", "chunk_rows", "ingest_streamed"]

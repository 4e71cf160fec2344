"""Read an analyst's file, whatever it is: CSV in any common encoding and delimiter, XLSX, Parquet.

The result is an Arrow table whose chosen columns are dictionary-encoded strings, so that
checking a column means checking its distinct values once. Rows that the CSV parser cannot
split into the header's number of fields are not dropped silently: they are returned as
``bad_rows`` with their line number and text. A file that cannot be read at all raises
:class:`UnreadableFile` naming the file and what is wrong.
"""
from __future__ import annotations

import codecs
import csv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.errors import GapmapError
from geo.ingest.limits import IngestLimits, LimitExceeded

DICT_STRING = pa.dictionary(pa.int32(), pa.string())
SAMPLE_BYTES = 1 << 16


class UnreadableFile(GapmapError):
    """The file cannot be read as a table at all (or is over an ingest limit)."""


@dataclass
class InputTable:
    path: Path
    format: str  # csv | xlsx | parquet
    columns: list[str]  # every column in the file, in order
    table: pa.Table | None = None  # the chosen columns
    encoding: str | None = None
    delimiter: str | None = None
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, reason)
    skipped_lines: tuple[int, ...] = ()  # file lines of the rows the parser could not split
    metadata: dict = field(default_factory=dict)
    limits: IngestLimits = field(default_factory=IngestLimits.from_env)
    row_offset: int = 0  # a chunk of a streamed file: table rows before this chunk
    header_row: int = 1  # the file row (sheet row) the column names are on; the rows above are titles
    header_found: bool = False  # the header row was found below titles (not given, not the first row)
    # a wide file read long (geo.ingest.wide): each table row's row in the file as read, and the
    # file column each cell of a reshaped column came from
    row_map: np.ndarray | None = None
    column_of_row: dict = field(default_factory=dict)

    def row_number(self, index) -> np.ndarray:
        """File row of table rows (the header is row ``header_row``), counting the skipped rows in between."""
        index = np.asarray(index, dtype=np.int64)
        if self.row_map is not None:
            index = self.row_map[index]
        rows = index + 1 + self.header_row + self.row_offset
        for line in self.skipped_lines:  # sorted: each one pushes the rows at or after it down
            rows = np.where(rows >= line, rows + 1, rows)
        return rows


def detect_encoding(sample: bytes, path: Path) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in sample:
        raise UnreadableFile(f"{path}: this is not a text file (it holds NUL bytes); save it as CSV, "
                             f"XLSX or Parquet")
    cut = sample.rfind(b"\n")
    head = sample if cut < 0 or len(sample) < SAMPLE_BYTES else sample[: cut + 1]
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is None or best.encoding is None:
        raise UnreadableFile(f"{path}: the text encoding cannot be recognised; save the file as UTF-8 CSV")
    return best.encoding


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


MAX_HEADER_CHARACTERS = 1 << 20


TITLE_SEARCH_ROWS = 20  # the header is looked for among the first rows


def find_header_row(rows: list[list[str]]) -> int:
    """The 1-based row of the column names among a file's first ``rows`` (each a list of cells):
    the first row with at least two cells filled, not all numbers, and as many filled as the
    typical row below it (so a title such as "Emergency admissions by LSOA, 2023/24" or a blank
    line above the header is passed over). The first row when none qualifies."""
    filled = [[c for c in (("" if v is None else str(v)).strip() for v in row) if c] for row in rows]
    for i, cells in enumerate(filled):
        if len(cells) < 2 or all(_is_number(c) for c in cells):
            continue
        below = [len(r) for r in filled[i + 1:] if r]
        if not below or len(cells) >= int(np.median(below)):
            return i + 1
    return 1


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def _check_header_row(header_row: int | None, rows: list, path: Path) -> None:
    if header_row is None:
        return
    if header_row < 1:
        raise UnreadableFile(f"{path.name}: the header row is counted from 1 (the file's first row); "
                             f"{header_row} is not a row")
    if header_row > len(rows):
        raise UnreadableFile(f"{path.name}: the file has {len(rows):,} row(s) in its first {TITLE_SEARCH_ROWS}; "
                             f"row {header_row} cannot be the header (the header row is looked for among the "
                             f"first {TITLE_SEARCH_ROWS} rows)")
    if not any(("" if v is None else str(v)).strip() for v in rows[header_row - 1]):
        raise UnreadableFile(f"{path.name}: row {header_row} is empty, so it cannot be the header; give the row "
                             f"the column names are on")


def _header(path: Path, encoding: str, delimiter: str, header_row: int = 1) -> list[str]:
    with open(path, newline="", encoding=encoding) as fh:
        try:
            for _ in range(header_row):
                line = fh.readline(MAX_HEADER_CHARACTERS + 1)
                if len(line) > MAX_HEADER_CHARACTERS:
                    raise UnreadableFile(f"{path.name}: the first line (the header) is longer than "
                                         f"{MAX_HEADER_CHARACTERS:,} characters; is this a CSV file?")
            row = next(csv.reader([line], delimiter=delimiter))
        except StopIteration:
            raise UnreadableFile(f"{path}: the file is empty") from None
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"{path}: the header is not valid {encoding} text ({exc.reason})") from None
        except csv.Error as exc:
            raise UnreadableFile(f"{path.name}: the header cannot be read as CSV ({exc})") from None
    return [c.strip().lstrip("\ufeff") for c in row]


def _first_rows(text: str, delimiter: str) -> list[list[str]]:
    lines = text.splitlines()[:TITLE_SEARCH_ROWS]
    try:
        return [next(csv.reader([line], delimiter=delimiter), []) for line in lines]
    except csv.Error:
        return [[line] for line in lines]


def peek(path: Path, limits: IngestLimits | None = None, header_row: int | None = None) -> InputTable:
    """Format, encoding, delimiter, the header row and column names, without reading the data; a
    file over one of the ``limits`` (size, workbook size, columns, rows) is refused here, before it
    is parsed. ``header_row`` (from 1) says which row holds the column names; when None, title rows
    above the header (a CSV or XLSX with a title, a source line and a blank row) are passed over
    (:func:`find_header_row`)."""
    path = Path(path)
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file")
    limits = limits or IngestLimits.from_env()
    try:
        limits.check_file_size(path)
        info = _peek(path, limits, header_row)
        limits.check_columns(info.columns, path.name)
    except LimitExceeded as exc:
        raise UnreadableFile(str(exc)) from None
    info.limits = limits
    return info


def _peek(path: Path, limits: IngestLimits, header_row: int | None = None) -> InputTable:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        limits.check_workbook(path)  # before openpyxl unpacks anything: a zip bomb stops here
        try:
            book = openpyxl.load_workbook(path, read_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise UnreadableFile(f"{path}: not a readable Excel workbook ({exc})") from None
        sheet = book.worksheets[0]
        first = list(sheet.iter_rows(max_row=TITLE_SEARCH_ROWS, values_only=True))
        book.close()
        if not first or not any(c is not None and str(c).strip() for row in first for c in row):
            raise UnreadableFile(f"{path}: the first sheet is empty")
        _check_header_row(header_row, first, path)
        row = header_row or find_header_row([list(r) for r in first])
        header = first[row - 1]
        columns = [("" if c is None else str(c)).strip() for c in header]
        while columns and not columns[-1]:  # empty cells right of the header are not columns
            columns.pop()
        return InputTable(path, "xlsx", columns, header_row=row, header_found=header_row is None and row > 1)
    if suffix == ".parquet":
        try:
            schema = pq.read_schema(path)
        except Exception as exc:
            raise UnreadableFile(f"{path}: not a readable Parquet file ({exc})") from None
        meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items() if k != b"ARROW:schema"}
        limits.check_parquet(pq.ParquetFile(path).metadata, path.name)
        if header_row not in (None, 1):
            raise UnreadableFile(f"{path.name}: a Parquet file has no header row to choose (its column names are "
                                 f"part of the file); leave the header row out")
        return InputTable(path, "parquet", list(schema.names), metadata=meta)
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise UnreadableFile(f"{path}: the file is empty")
    encoding = detect_encoding(sample, path)
    try:
        text = sample.decode(encoding, errors="strict" if len(sample) < SAMPLE_BYTES else "ignore")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: the text is not valid {encoding} ({exc.reason})") from None
    delimiter = detect_delimiter(text)
    first = _first_rows(text, delimiter)
    _check_header_row(header_row, first, path)
    row = header_row or find_header_row(first)
    if row > 1:  # the titles above the header can mislead the delimiter's detection
        delimiter = detect_delimiter("\n".join(text.splitlines()[row - 1:]))
    limits.check_text_lines(path, path.name)
    return InputTable(path, "csv", _header(path, encoding, delimiter, row), encoding=encoding, delimiter=delimiter,
                      header_row=row, header_found=header_row is None and row > 1)


def read(info: InputTable, columns: list[str], plain: tuple[str, ...] = ()) -> InputTable:
    """Read ``columns`` (names from ``info.columns``) as dictionary-encoded strings, sharing one
    dictionary across chunks; ``plain`` columns (identifiers, nearly all distinct) are read as
    whole numbers where they are, else as plain strings."""
    if info.format == "csv":
        try:
            return _read_csv(info, columns, {c: pa.int64() for c in plain})
        except _RetryAsText:
            return _read_csv(info, columns, {c: pa.string() for c in plain})
    if info.format == "xlsx":
        import pandas as pd

        frame = pd.read_excel(info.path, sheet_name=0, dtype=str, keep_default_na=False, header=info.header_row - 1,
                              nrows=info.limits.max_rows + 1)  # one more, to tell that there are too many
        if len(frame) > info.limits.max_rows:
            raise UnreadableFile(f"{info.path.name}: the sheet has more than {info.limits.max_rows:,} rows, over the "
                                 f"limit (GAPMAP_MAX_ROWS). Split it by period, or raise the limit.")
        frame.columns = [str(c).strip() for c in frame.columns]
        table = pa.table({c: pa.array(frame[c].astype(str).to_numpy(), pa.string()) for c in columns})
    else:
        table = pq.read_table(info.path, columns=columns)
        table = pa.table({c: table[c].cast(pa.string()) for c in columns})
    table = pa.table({c: table[c].fill_null("") if c in plain else table[c].fill_null("").dictionary_encode()
                      for c in columns}).unify_dictionaries()
    info.table = table
    return info


class _RetryAsText(Exception):
    pass


def _csv_options(info: InputTable, columns: list[str], plain_types: dict, on_invalid) -> dict:
    """How pyarrow reads the file, whole or in chunks: its encoding and delimiter, only ``columns``,
    each as a dictionary of text unless ``plain_types`` gives its type, rows that do not split into
    the header's fields passed to ``on_invalid``."""
    return {"read_options": pacsv.ReadOptions(encoding=info.encoding or "utf-8", block_size=8 << 20,
                                              skip_rows=info.header_row - 1),
            "parse_options": pacsv.ParseOptions(delimiter=info.delimiter or ",", invalid_row_handler=on_invalid),
            "convert_options": pacsv.ConvertOptions(
                include_columns=columns, column_types={c: plain_types.get(c, DICT_STRING) for c in columns},
                strings_can_be_null=False, quoted_strings_can_be_null=False)}


def _read_csv(info: InputTable, columns: list[str], plain_types: dict) -> InputTable:
    bad: list[tuple[int, str, str]] = []
    expected = len(info.columns)

    def on_invalid(row):
        number = row.number if row.number is not None else -1
        bad.append((number, row.text, f"the row has {row.actual_columns} fields; the header has {expected}"))
        return "skip"

    try:
        table = pacsv.read_csv(info.path, **_csv_options(info, columns, plain_types, on_invalid))
    except pa.ArrowInvalid as exc:
        if any(t == pa.int64() for t in plain_types.values()) and "conversion error" in str(exc).lower():
            raise _RetryAsText() from None
        raise UnreadableFile(f"{info.path}: cannot be read as {info.encoding} CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{info.path}: cannot be read as {info.encoding} CSV ({exc})") from None
    info.table = table.unify_dictionaries()  # one dictionary for all chunks: cheaper than combining them
    if any(line < 0 for line, _, _ in bad):  # the parallel parser does not know line numbers
        bad = _find_lines(info, bad)
    info.bad_rows = bad
    info.skipped_lines = tuple(sorted(line for line, _, _ in bad if line > 0))
    return info


STREAM_BLOCK_BYTES = 16 << 20  # a streamed file is parsed this many bytes (whole lines) at a time


def stream_csv(info: InputTable, columns: list[str], plain: tuple[str, ...] = (), plain_as_text: bool = False,
               rows_per_chunk: int = 4_000_000):
    """Read a CSV file in chunks of at most ``rows_per_chunk`` rows, so memory does not grow with the
    file: yields an :class:`InputTable` per chunk (at least one) holding that chunk's rows, as
    :func:`read` would (dictionary-encoded; ``plain`` columns as whole numbers, or as text with
    ``plain_as_text``), with ``row_offset`` set and no skipped lines. Rows the parser cannot split
    are collected in ``info.bad_rows``; their line numbers are found by one more pass at the end
    and ``info.skipped_lines`` is set then: chunk row numbers count no skipped rows until
    :meth:`InputTable.row_number` of ``info`` corrects them. Raises :class:`_RetryAsText` when a
    ``plain`` column is not all whole numbers.

    The file is cut into blocks of :data:`STREAM_BLOCK_BYTES` at line ends (Arrow reads no line
    end inside a quoted value either) and each block is parsed by Arrow on every core while the
    chunk before it is checked: at most two blocks are held, whatever the size of the file. (Arrow's
    own streaming reader parses ahead of its reader with no bound: a whole 10 million row file when
    the checks are slower than the parser.)"""
    bad: list[tuple[int, str, str]] = []
    expected = len(info.columns)

    def on_invalid(row):
        bad.append((-1, row.text, f"the row has {row.actual_columns} fields; the header has {expected}"))
        return "skip"

    plain_type = pa.string() if plain_as_text else pa.int64()
    options = _csv_options(info, columns, {c: plain_type for c in plain}, on_invalid)
    options["read_options"].skip_rows = 0  # each block is parsed as the header line and whole lines
    options["read_options"].encoding = "utf-8"  # the blocks are UTF-8 (see _header_and_blocks)

    def parse(block: bytes) -> pa.Table:
        try:
            return pacsv.read_csv(pa.BufferReader(block), **options)
        except pa.ArrowInvalid as exc:
            if not plain_as_text and plain and "conversion error" in str(exc).lower():
                raise _RetryAsText() from None
            raise UnreadableFile(f"{info.path}: cannot be read as {info.encoding} CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"{info.path}: cannot be read as {info.encoding} CSV ({exc})") from None

    offset = 0
    emitted = False
    with ThreadPoolExecutor(max_workers=1) as pool:  # parses the next block while this one is checked
        blocks = _header_and_blocks(info, STREAM_BLOCK_BYTES)
        header = next(blocks)
        ahead = pool.submit(parse, next(blocks, header))  # a file with no rows: its header alone
        while ahead is not None:
            table = ahead.result()
            block = next(blocks, None)
            ahead = pool.submit(parse, block) if block is not None else None
            for start in range(0, table.num_rows, rows_per_chunk):
                part = table.slice(start, rows_per_chunk).combine_chunks().unify_dictionaries()
                yield InputTable(info.path, info.format, info.columns, pa.table({c: part[c] for c in columns}),
                                 info.encoding, info.delimiter, metadata=info.metadata, row_offset=offset,
                                 header_row=info.header_row)
                emitted = True
                offset += part.num_rows
            if not emitted and ahead is None:  # a file with no rows: one empty chunk
                yield InputTable(info.path, info.format, info.columns, pa.table({c: table[c] for c in columns}),
                                 info.encoding, info.delimiter, metadata=info.metadata, header_row=info.header_row)
            del table
    info.bad_rows = _find_lines(info, bad) if bad else []
    info.skipped_lines = tuple(sorted(line for line, _, _ in info.bad_rows if line > 0))


def _header_and_blocks(info: InputTable, block_bytes: int):
    """The file's header line (row ``header_row``), then its following lines in blocks of about
    ``block_bytes``, each ending at a line end and starting with the header line (so that each
    parses alone), all as UTF-8 (a file in another encoding is decoded as it is read, as Arrow
    would decode it). A UTF-8 file is read straight into each block's buffer: one copy of the
    file, not four."""
    encoding = codecs.lookup(info.encoding or "utf-8").name
    if encoding not in ("utf-8", "utf-8-sig"):
        yield from _decoded_blocks(info, encoding, block_bytes)
        return
    with open(info.path, "rb") as fh:
        for _ in range(info.header_row - 1):  # title rows above the header
            fh.readline()
        header = _header_line(fh.readline())
        yield header
        rest = b""
        while True:
            block = bytearray(len(header) + len(rest) + block_bytes)
            view = memoryview(block)
            start = len(header) + len(rest)
            view[:start] = header + rest
            end = start
            while end < len(block) and (size := fh.readinto(view[end:])):
                end += size
            if end == start:  # the end of the file
                break
            cut = block.rfind(b"\n", len(header), end) + 1
            if cut == 0:  # no line ends in this block: read on
                rest = bytes(view[len(header):end])
                continue
            yield view[:cut]
            rest = bytes(view[cut:end])
    if rest:
        yield header + rest


def _header_line(header: bytes) -> bytes:
    if header.startswith(b"\xef\xbb\xbf"):  # the byte order mark, read as part of the header
        header = header[3:]
    return header if header.endswith(b"\n") else header + b"\n"


def _decoded_blocks(info: InputTable, encoding: str, block_bytes: int):
    """:func:`_header_and_blocks` of a file not in UTF-8, decoded as it is read."""
    fh = open(info.path, encoding=encoding, newline="")
    with fh:
        try:
            for _ in range(info.header_row - 1):  # title rows above the header
                fh.readline()
            header = _header_line(fh.readline().encode("utf-8"))
            yield header
            rest = b""
            while data := fh.read(block_bytes).encode("utf-8"):
                data = rest + data
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                yield header + data[:cut]
                rest = data[cut:]
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"{info.path}: cannot be read as {info.encoding} CSV ({exc})") from None
    if rest:
        yield header + rest


def _find_lines(info: InputTable, bad: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """Line numbers of the rows the parser skipped, found by reading the file once more."""
    wanted: dict[str, list[int]] = {}
    for i, (_, text, _) in enumerate(bad):
        wanted.setdefault(text.rstrip("\r\n"), []).append(i)
    found = [line for line, _, _ in bad]
    with open(info.path, encoding=info.encoding or "utf-8", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            key = line.rstrip("\r\n")
            if key in wanted and wanted[key]:
                found[wanted[key].pop(0)] = number
    return [(n, text, reason) for n, (_, text, reason) in zip(found, bad)]

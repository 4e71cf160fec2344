"""Limits on what one ingest may read, so that no file (an XLSX zip bomb, a 1 GB CSV) can hold the
machine. Each is configurable from the environment, and a file over a limit is refused before it
is parsed, with a message naming the file, the limit and the setting that raises it.

=============================== ========= ===================================================
setting                         default   limit
=============================== ========= ===================================================
``GAPMAP_MAX_UPLOAD_MB``        512       size of one upload through the web (the request)
``GAPMAP_MAX_FILE_MB``          4096      size of a file given to ``gapmap ingest`` (and what a
                                          Parquet file's data unpacks to)
``GAPMAP_MAX_ROWS``             20000000  data rows in a file
``GAPMAP_MAX_COLUMNS``          500       columns in a file
``GAPMAP_MAX_XLSX_MB``          50        uncompressed size of a workbook (every zip member,
                                          read from the zip's directory before it is opened;
                                          openpyxl reads about 2 MB of sheet a second, so
                                          this bounds a workbook's reading to ~25 s: about
                                          400,000 rows of six columns; larger data as CSV)
``GAPMAP_MAX_LISTED_ROWS``      100000    rows listed in ``rows_not_used.csv``; the rest are
                                          summarised by reason in the report
=============================== ========= ===================================================
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from geo.errors import InvalidValue, GapmapError

MB = 1_000_000


class LimitExceeded(GapmapError):
    """A file is over one of the ingest limits; nothing was read or changed (HTTP 413)."""

    http_status = 413


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not value:
        return default
    try:
        number = int(float(value))
    except ValueError:
        raise InvalidValue(f"{name}={os.environ[name]!r}: give a whole number") from None
    if number <= 0:
        raise InvalidValue(f"{name}={os.environ[name]!r}: give a number above 0")
    return number


@dataclass(frozen=True)
class IngestLimits:
    max_upload_bytes: int = 512 * MB
    max_file_bytes: int = 4096 * MB
    max_rows: int = 20_000_000
    max_columns: int = 500
    max_xlsx_bytes: int = 50 * MB
    max_listed_rows: int = 100_000

    @classmethod
    def from_env(cls) -> "IngestLimits":
        d = cls()
        return cls(max_upload_bytes=_env_int("GAPMAP_MAX_UPLOAD_MB", d.max_upload_bytes // MB) * MB,
                   max_file_bytes=_env_int("GAPMAP_MAX_FILE_MB", d.max_file_bytes // MB) * MB,
                   max_rows=_env_int("GAPMAP_MAX_ROWS", d.max_rows),
                   max_columns=_env_int("GAPMAP_MAX_COLUMNS", d.max_columns),
                   max_xlsx_bytes=_env_int("GAPMAP_MAX_XLSX_MB", d.max_xlsx_bytes // MB) * MB,
                   max_listed_rows=_env_int("GAPMAP_MAX_LISTED_ROWS", d.max_listed_rows))

    # ---- checks made before a file is parsed -------------------------------------------------
    def check_file_size(self, path: Path, name: str | None = None) -> None:
        size = Path(path).stat().st_size
        if size > self.max_file_bytes:
            raise LimitExceeded(f"{name or Path(path).name}: the file is {size / MB:,.0f} MB, over the limit of "
                                f"{self.max_file_bytes / MB:,.0f} MB (GAPMAP_MAX_FILE_MB). Split it, or raise the "
                                f"limit.")

    def check_workbook(self, path: Path, name: str | None = None) -> None:
        """Refuse a workbook whose members would unpack to more than ``max_xlsx_bytes`` (a zip
        bomb), from the sizes in the zip's directory, before any member is decompressed. (Python's
        zipfile, which openpyxl uses, stops a member at its declared size, so the sizes cannot lie.)"""
        label = name or Path(path).name
        try:
            with zipfile.ZipFile(path) as book:
                members = book.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise LimitExceeded(f"{label}: not a readable Excel workbook ({exc}); save it again as .xlsx or as CSV") \
                from None
        total = sum(m.file_size for m in members)
        if total > self.max_xlsx_bytes:
            raise LimitExceeded(f"{label}: the workbook unpacks to {total / MB:,.0f} MB, over the limit of "
                                f"{self.max_xlsx_bytes / MB:,.0f} MB (GAPMAP_MAX_XLSX_MB). Save the sheet as CSV (read "
                                f"far faster), or raise the limit.")

    def check_parquet(self, metadata, name: str) -> None:
        """Rows, and the size the data unpacks to (from the file's footer, before any of it is read)
        against ``max_file_bytes``: a small file of highly compressed text is refused like a big one."""
        self.check_rows(metadata.num_rows, name)
        unpacked = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
        if unpacked > self.max_file_bytes:
            raise LimitExceeded(f"{name}: the data unpacks to {unpacked / MB:,.0f} MB, over the limit of "
                                f"{self.max_file_bytes / MB:,.0f} MB (GAPMAP_MAX_FILE_MB). Split it, or raise the "
                                f"limit.")

    def check_columns(self, columns: list, name: str) -> None:
        if len(columns) > self.max_columns:
            raise LimitExceeded(f"{name}: the file has {len(columns):,} columns, over the limit of "
                                f"{self.max_columns:,} (GAPMAP_MAX_COLUMNS). Keep the columns Gapmap needs.")

    def check_rows(self, rows: int, name: str, at_least: bool = False) -> None:
        if rows > self.max_rows:
            raise LimitExceeded(f"{name}: the file has {'more than ' if at_least else ''}{rows:,} rows, over the "
                                f"limit of {self.max_rows:,} (GAPMAP_MAX_ROWS). Split it by period, or raise the "
                                f"limit.")

    def check_text_lines(self, path: Path, name: str) -> None:
        """A text file's lines, counted in 1 MB blocks read into one buffer (about 0.05 s per GB)
        and stopped as soon as there are too many, before it is parsed: every line is at most one row."""
        import numpy as np

        lines = 0
        buffer = bytearray(1 << 20)
        as_bytes = np.frombuffer(buffer, dtype=np.uint8)
        with open(path, "rb", buffering=0) as fh:
            while size := fh.readinto(buffer):
                lines += int(np.count_nonzero(as_bytes[:size] == ord("\n")))
                if lines - 1 > self.max_rows:  # the header is not a data row
                    raise LimitExceeded(f"{name}: the file has more than {self.max_rows:,} lines after the header "
                                        f"(each holds at most one row), over the limit of {self.max_rows:,} rows "
                                        f"(GAPMAP_MAX_ROWS). Split it by period, or raise the limit.")

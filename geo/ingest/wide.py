"""Wide files: a count column per period or per group (LSOA, 2021/22, 2022/23, 2023/24 or LSOA,
Male, Female), as analysts often hold them, read as one row per LSOA and period (or group).

:func:`find_wide_columns` recognises the columns whose names are periods (2023/24, FY2023-24,
2023, 2023-Q1, 2023-04), sexes (Male, Female, Men, Women), age bands (0-4, 85+, Under 5) or
ethnic groups (White, Asian or Asian British ...). A file with two or more of one kind is refused
unless the option that reshapes it is given (``--wide period``, ``--wide sex``, ``--wide
age_band``, ``--wide ethnic_group``): read silently it would be taken for one event per row, or
only its total kept. :func:`reshape` turns it long: each count cell becomes a row, with the
breakdown taken from its column's name, and every cell that cannot be used is listed with its
file row and its own column ("2022/23").
"""
from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from geo.ingest import codes as C
from geo.ingest.reading import InputTable, UnreadableFile, read
from geo.ingest.report import IngestError

KINDS = ("period", "sex", "age_band", "ethnic_group")
ROLE = {"period": "period", "sex": "sex", "age_band": "age_band", "ethnic_group": "ethnicity"}
WORDS = {"period": "period", "sex": "sex", "age_band": "age band", "ethnic_group": "ethnic group"}
EXAMPLES = {"period": "2021/22, 2023, 2023-Q1, 2023-04", "sex": "Male, Female", "age_band": "0-4, 5-9, 85+",
            "ethnic_group": "White, Mixed, Asian, Black, Other"}
TOTALS = {"total", "totals", "all", "all persons", "persons", "all ages", "all people", "grand total", "both",
          "both sexes", "all ethnic groups"}

_FY = re.compile(r"^(?:FY\s*)?((?:19|20)\d{2})\s*[/-]\s*(\d{2}|(?:19|20)\d{2})$", re.I)
_YEAR = re.compile(r"^(?:CY\s*)?((?:19|20)\d{2})$", re.I)
_QUARTER = re.compile(r"^((?:19|20)\d{2})\s*[- ]?\s*Q([1-4])$|^Q([1-4])\s*[- ]?\s*((?:19|20)\d{2})$", re.I)
_MONTH = re.compile(r"^((?:19|20)\d{2})-(0[1-9]|1[0-2])$")
_SEXES = {"male": "male", "males": "male", "men": "male", "female": "female", "females": "female",
          "women": "female"}


def period_label(name: str) -> str | None:
    """A column name as a period label Gapmap reads (2023/24, 2023, 2023-Q1, 2023-04), or None."""
    name = name.strip()
    if m := _FY.match(name):
        start, end = int(m.group(1)), m.group(2)
        if int(end[-2:]) != (start + 1) % 100:
            return None
        return f"{start}/{(start + 1) % 100:02d}"
    if m := _YEAR.match(name):
        return m.group(1)
    if m := _QUARTER.match(name):
        year, quarter = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        return f"{year}-Q{quarter}"
    if _MONTH.match(name):
        return name
    return None


def _group_label(kind: str, name: str) -> str | None:
    text = name.strip()
    if kind == "period":
        return period_label(text)
    if kind == "sex":
        return _SEXES.get(text.lower())
    if kind == "age_band":
        if period_label(text) or not re.search(r"\d", text):
            return None
        _, _, why = C.parse_age_band(np.array([text], dtype=object))
        return text if why[0] == "" else None
    if kind == "ethnic_group":
        if len(text) < 4:  # NHS codes (A, B, 99) are values, not column names
            return None
        group, warn = C.classify_ethnicity(np.array([text], dtype=object))
        return text if warn[0] == "" and group[0] != "unknown" else None
    raise ValueError(kind)


def find_wide_columns(columns: list[str], mapping: dict[str, str]) -> dict[str, dict[str, str]]:
    """kind -> {column: its label} for each kind of which the file has two or more columns (of
    the columns not taken by a role)."""
    taken = set(mapping.values()) - ({mapping["count"]} if "count" in mapping else set())
    found: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        labels = {c: label for c in columns if c not in taken and (label := _group_label(kind, c))}
        if len(labels) >= 2:
            found[kind] = labels
    return found


def totals(columns: list[str], mapping: dict[str, str]) -> list[str]:
    taken = set(mapping.values()) - ({mapping["count"]} if "count" in mapping else set())
    return [c for c in columns if c not in taken and c.strip().lower() in TOTALS]


def _listed(names) -> str:
    names = list(names)
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def check(info: InputTable, mapping: dict[str, str], given: dict[str, str], wide: str | None, shape: str | None
          ) -> dict[str, str] | None:
    """The wide columns to reshape (column -> label) when ``wide`` names their kind; None for a
    long file. A wide file without ``wide`` is refused naming the option; so is ``wide`` naming a
    kind the file has no columns of, or a shape other than counts per LSOA."""
    name = info.path.name
    found = find_wide_columns(info.columns, mapping)
    if wide is not None and wide not in KINDS:
        raise IngestError(f"--wide {wide}: choose one of {', '.join(KINDS)} (what the count columns' names are)")
    if wide is None:
        if not found or "count" in given:  # the count column named: the other columns are not read
            return None
        if "lsoa" not in mapping and "postcode" not in mapping:  # not a file per LSOA: refused as such later
            return None
        kind, labels = next(iter(found.items()))
        count = (f"; or, to use only the column {mapping['count']!r}, name it with --column count={mapping['count']}"
                 if "count" in mapping else "")
        raise IngestError(
            f"{name}: the file has a column per {WORDS[kind]} ({_listed(labels)}): it is a wide file, with "
            f"several counts in each row. Give --wide {kind} to read each of these columns as the count of its "
            f"{WORDS[kind]} (one row per LSOA and {WORDS[kind]}){count}")
    if wide not in found:
        raise IngestError(f"{name}: --wide {wide}: no column names look like {WORDS[wide]}s (e.g. {EXAMPLES[wide]}), "
                          f"at least two are needed; the file has: {_listed(info.columns)}")
    if shape not in (None, "aggregated"):
        raise IngestError(f"{name}: --wide reads counts per LSOA; it cannot be used with the shape {shape}")
    if ROLE[wide] in mapping and mapping[ROLE[wide]] not in found[wide]:
        raise IngestError(f"{name}: --wide {wide}: the file also has a {WORDS[wide]} column "
                          f"({mapping[ROLE[wide]]!r}); a {WORDS[wide]} can come from one or the other, not both")
    others = [k for k in found if k != wide]
    if others:
        raise IngestError(f"{name}: the file has columns per {WORDS[wide]} and per {WORDS[others[0]]} "
                          f"({_listed(found[others[0]])}); reshape it so that its columns are of one kind")
    return found[wide]


def reshape(info: InputTable, mapping: dict[str, str], kind: str, labels: dict[str, str]
            ) -> tuple[InputTable, dict[str, str], dict]:
    """The file read long: one row per file row and wide column, the count from the cell and the
    breakdown from the column's name. Returns the long table, the mapping to read it by, and what
    the report says about it."""
    id_roles = {role: column for role, column in mapping.items() if role != "count" and column not in labels}
    ids = list(dict.fromkeys(id_roles.values()))
    wide_columns = list(labels)
    try:
        read(info, ids + wide_columns)
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None
    table, n = info.table, info.table.num_rows
    key_name = _free_name(f"{WORDS[kind]} (from the column names)", info.columns)
    count_name = _free_name(f"count (in each {WORDS[kind]} column)", info.columns)
    parts = []
    for column in wide_columns:
        parts.append(pa.table({**{c: table[c] for c in ids},
                               key_name: pa.array([labels[column]] * n, pa.string()).dictionary_encode(),
                               count_name: table[column]}))
    long = pa.concat_tables(parts, promote_options="permissive").unify_dictionaries() if parts else table
    long = pa.table({c: long[c].combine_chunks() if not pa.types.is_dictionary(long[c].type)
                     else long[c] for c in long.column_names}).unify_dictionaries()
    out = InputTable(info.path, info.format, info.columns + [key_name, count_name], long, info.encoding,
                     info.delimiter, info.bad_rows, info.skipped_lines, info.metadata, info.limits,
                     header_row=info.header_row, header_found=info.header_found)
    out.row_map = np.tile(np.arange(n, dtype=np.int64), len(wide_columns))
    out.column_of_row = {count_name: np.repeat(np.array(wide_columns, dtype=object), n)}
    new_mapping = {**id_roles, ROLE[kind]: key_name, "count": count_name}
    unused = [c for c in totals(info.columns, mapping)] + (
        [mapping["count"]] if "count" in mapping and mapping["count"] not in labels else [])
    note = (f"a wide file: {n:,} rows x {len(wide_columns)} {WORDS[kind]} columns ({_listed(wide_columns)}) read as "
            f"{n * len(wide_columns):,} rows, one per LSOA and {WORDS[kind]} (--wide {kind}); rows read, used and "
            f"rejected count these")
    if unused:
        note += f". Not read: {', '.join(dict.fromkeys(unused))} (a total of the others would count them twice)"
    report = {"breakdown": kind, "columns": wide_columns, "file_rows": int(n), "note": note}
    return out, new_mapping, report


def _free_name(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name

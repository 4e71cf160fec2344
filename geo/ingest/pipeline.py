"""Ingest an activity file: detect its shape, check every row, aggregate to LSOA 2021, store it.

Four shapes are understood:

``aggregated``
    one row per area (and breakdown): an LSOA 2021 or 2011 code, a count, and optionally a
    denominator, age band, sex and period. 2011 codes are converted per row through ONS's
    lookup: splits share their count by Census 2021 residents, merges are summed.
``records``
    one row per event (an attendance, an admission): an LSOA code or a postcode, and optionally
    age or age band, sex, ethnic group, date and a record id. Rows are counted per LSOA and the
    breakdowns asked for (``by``).
``practice``
    one row per GP practice: a practice code, a numerator and a denominator.
``fingertips``
    an OHID Fingertips CSV export at GP practice level.

Practice files are shared among the LSOAs their patients live in by NHS England's
registrations by LSOA (``--registrations``; see :mod:`geo.ingest.practices`), and refused
without them. Every dataset stores its indicator definition (:mod:`geo.ingest.definition`):
records outside the definition's ages are listed as not used, and records with an ``outcome``
flag give a ``count`` (the yeses) and a ``denominator`` (every record).

Every row is either used or listed in the report with its file row, column, value and reason;
the report's totals reconcile (rows read = used + rejected; counts read = used + rejected). A
file that cannot be read at all raises :class:`IngestError` and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.ingest import codes as C
from geo.ingest import definition as D
from geo.store.datasets import DatasetStore, check_name
from geo.sources.catalogue import sha256_of
from geo.store.folder import Store
from geo.ingest.report import IngestError, IngestResult, format_report, reason_summary  # noqa: F401
from geo.ingest.reading import InputTable, UnreadableFile, peek, read
from geo.ingest.streaming import _repeats_in_order, ingest_streamed
from geo.ingest.tally import Coded, Tally
from geo.ingest import wide as W

ROLES = ("lsoa", "postcode", "count", "denominator", "age", "age_band", "sex", "ethnicity", "date", "period",
         "record_id", "outcome", "practice")
ALIASES = {
    "lsoa": ["lsoa21cd", "lsoa11cd", "lsoa_code", "lsoa", "lsoa21", "lsoa11", "lsoa_2021_code", "lsoa_2011_code",
             "lsoa_of_residence", "der_postcode_lsoa_2021_code", "der_postcode_lsoa_2011_code",
             "der_postcode_lsoa_code", "lsoa_of_residence_code", "area_code"],
    "postcode": ["postcode", "post_code", "patient_postcode", "postcode_of_usual_address", "der_postcode"],
    "count": ["count", "n", "attendances", "admissions", "activity", "numerator", "events", "total"],
    "denominator": ["denominator", "population", "pop", "registered_population"],
    "age": ["age", "age_at_arrival", "age_years", "age_at_activity_date", "age_at_start_of_episode",
            "age_on_admission"],
    "age_band": ["age_band", "ageband", "age_group", "agegroup", "age_range"],
    "sex": ["sex", "gender", "stated_gender", "person_stated_gender_code"],
    "ethnicity": ["ethnicity", "ethnic_category", "ethnic_group", "ethnic_category_code", "ethnos"],
    "date": ["date", "arrival_date", "attendance_date", "admission_date", "activity_date", "event_date",
             "admidate", "episode_start_date"],
    "period": ["period", "time_period", "financial_year", "year", "month", "reporting_period"],
    "record_id": ["record_id", "id", "ec_ident", "attendance_id", "episode_id", "generated_record_id",
                  "epikey", "spell_id"],
    # records: yes/no per row (a preterm birth); each row is in the denominator, the yeses are the events
    "outcome": ["outcome"],
    # GP practice files (practice code, numerator, denominator): attributed to LSOAs by --registrations
    "practice": ["practice_code", "practice", "org_code", "gp_practice_code", "ods_code", "practice_id"],
}
BREAKDOWNS = ("age_band", "sex", "ethnic_group", "period")
SHAPES = ("aggregated", "records", "fingertips", "practice")
PERIOD_UNITS = ("financial-year", "year", "quarter", "month")
EARLIEST_DATE = dt.date(2000, 1, 1)


@dataclass
class IngestOptions:
    name: str
    shape: str | None = None  # aggregated | records | fingertips; detected when None
    columns: dict[str, str] = field(default_factory=dict)  # role -> column name in the file
    by: tuple[str, ...] = ()  # records: breakdowns to keep
    period_unit: str = "financial-year"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    measure: str | None = None
    unit: str = "count"
    higher_is_worse: bool = True
    synthetic: bool | None = None  # None: read the file's own label
    nhs_indicator: str | None = None  # an NHS statement metric (ELR01..MAT01) this dataset reports
    disclosure: dict | None = None  # e.g. {"suppress_to": 9, "round_to": 10}; default: HES rules (1-7, 5)
    owner: str | None = None  # who ingested it (a user name); kept in the dataset's meta
    owner_icb: str | None = None  # their ICB: analysts of that ICB may replace or remove the dataset
    # the indicator's definition (see geo.sources.indicator_definitions); None: the shipped one for
    # nhs_indicator, else Gapmap's default. ``unit`` '%' / 'per 1,000' / 'per 100,000' sets the multiplier.
    measure_type: str | None = None  # rate | proportion | ratio | count
    ages: str | None = None  # 0-17, 18+, all
    sex: str | None = None  # persons | male | female
    standardisation: str | None = None  # none | age | age-sex
    multiplier: int | None = None
    period_type: str | None = None  # year | snapshot
    registrations: str | Path | None = None  # NHS England's gp-reg-pat-prac-lsoa-all.csv, for practice data
    header_row: int | None = None  # the row the column names are on (from 1); None: found below any title rows
    wide: str | None = None  # a count column per period | sex | age_band | ethnic_group: read long by it
    definition: object = None  # set by ingest(): the IndicatorDefinition resolved from the above


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def map_columns(columns: list[str], given: dict[str, str], path: Path) -> dict[str, str]:
    """role -> file column, from ``given`` first, then by the usual names."""
    unknown_roles = set(given) - set(ROLES)
    if unknown_roles:
        raise IngestError(f"unknown column role {', '.join(sorted(unknown_roles))}; roles are {', '.join(ROLES)}")
    mapping = {}
    for role, column in given.items():
        if column not in columns:
            raise IngestError(f"{path}: no column {column!r} (for {role}); the file has: {', '.join(columns)}")
        mapping[role] = column
    by_slug = {}
    for column in columns:
        by_slug.setdefault(_slug(column), column)
    taken = set(mapping.values())
    for role in ROLES:
        if role in mapping:
            continue
        for alias in ALIASES[role]:
            column = by_slug.get(alias)
            if column and column not in taken:
                mapping[role] = column
                taken.add(column)
                break
    return mapping


def detect_shape(columns: list[str], mapping: dict[str, str]) -> str:
    if {"Indicator ID", "Area Code", "Area Type", "Value"} <= set(columns):
        return "fingertips"
    if "practice" in mapping and "count" in mapping and "lsoa" not in mapping and "postcode" not in mapping:
        return "practice"
    return "aggregated" if "count" in mapping else "records"


class RowReasons:
    """The first reason each row cannot be used (or a warning on a used row), kept as small codes."""

    def __init__(self, n: int):
        self.code = np.zeros(n, dtype=np.int32)
        self.warn = np.zeros(n, dtype=np.int32)
        self.labels: list[tuple[str, str]] = [("", "")]  # (column, reason)

    def _codes(self, column: str, per_value_reason: np.ndarray) -> np.ndarray:
        out = np.zeros(len(per_value_reason), dtype=np.int32)
        for reason in sorted(set(per_value_reason) - {""}):
            self.labels.append((column, reason))
            out[per_value_reason == reason] = len(self.labels) - 1
        return out

    def reject(self, column: str, indices: np.ndarray, per_value_reason: np.ndarray) -> None:
        """Reject rows whose dictionary value (``indices`` into ``per_value_reason``) has a reason."""
        self._mark(self.code, self._codes(column, per_value_reason), indices)

    @staticmethod
    def _mark(target: np.ndarray, value_codes: np.ndarray, indices: np.ndarray) -> None:
        if not value_codes.any():  # the usual case: every distinct value is fine
            return
        rows = np.flatnonzero((value_codes != 0)[indices])
        rows = rows[target[rows] == 0]  # the first reason found for a row stands
        target[rows] = value_codes[indices[rows]]

    def reject_rows(self, column: str, mask: np.ndarray, reason: str | np.ndarray) -> None:
        """Reject the rows in ``mask``, for one reason or a reason per row."""
        rows = np.flatnonzero(mask & (self.code == 0))
        if not len(rows):
            return
        if isinstance(reason, str):
            self.labels.append((column, reason))
            self.code[rows] = len(self.labels) - 1
            return
        values, inverse = np.unique(np.asarray(reason, dtype=object)[rows].astype(str), return_inverse=True)
        start = len(self.labels)
        self.labels.extend((column, str(v)) for v in values)
        self.code[rows] = start + inverse.astype(np.int32)

    def warn_rows(self, column: str, indices: np.ndarray, per_value_reason: np.ndarray) -> None:
        self._mark(self.warn, self._codes(column, per_value_reason), indices)

    @property
    def ok(self) -> np.ndarray:
        return self.code == 0


def _dict(table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, index of each row's value) of a dictionary-encoded column whose chunks
    share one dictionary (see :func:`geo.ingest.reading.read`)."""
    chunks = table[column].chunks
    if not chunks:
        return np.array([], dtype=object), np.array([], dtype=np.int32)
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    return np.asarray(chunks[0].dictionary.to_pylist(), dtype=object), indices


def _synthetic_label(info: InputTable) -> bool:
    if str(info.metadata.get("gapmap:synthetic", "")).lower() == "true":
        return True
    sidecar = info.path.with_name(info.path.name + ".json")
    if sidecar.exists():
        try:
            return bool(json.loads(sidecar.read_text()).get("synthetic"))
        except (ValueError, AttributeError):
            return False
    return False


def _lsoa_index(store: Store) -> tuple[C.LsoaCodes, pd.DataFrame]:
    """The store's LSOA codes (2021, 2011, in scope) and the 2011 -> 2021 lookup; made once per
    streamed file (a store that memoises, :class:`geo.ingest.streaming._ReadOnce`)."""
    once = getattr(store, "once", None)
    return once("lsoa_index", lambda: _read_lsoa_index(store)) if once else _read_lsoa_index(store)


def _read_lsoa_index(store: Store) -> tuple[C.LsoaCodes, pd.DataFrame]:
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd"])
    lookup = store.lsoa11_to_lsoa21()
    in_scope = set(lsoas["lsoa21cd"].to_numpy(dtype=object))
    all21 = set(lookup["lsoa21cd"].to_numpy(dtype=object)) | in_scope
    return C.LsoaCodes(all21, set(lookup["lsoa11cd"].to_numpy(dtype=object)), in_scope), lookup


def ingest(path: str | Path, options: IngestOptions, store: Store | None = None) -> "IngestResult":
    """Read, check, aggregate and store one activity file. See the module docstring."""
    if store is None:
        from geo.store import open_store

        store = open_store()
    check_name(options.name)
    check_options(options)
    if options.nhs_indicator:
        from geo.sources.nhs_indicators import check

        try:
            check(options.nhs_indicator)
        except ValueError as exc:
            raise IngestError(str(exc)) from None
    path = Path(path)
    if options.period_unit not in PERIOD_UNITS:
        raise IngestError(f"period unit {options.period_unit!r}: choose one of {', '.join(PERIOD_UNITS)}")
    bad_by = set(options.by) - set(BREAKDOWNS)
    if bad_by:
        raise IngestError(f"cannot break down by {', '.join(sorted(bad_by))}; choose from {', '.join(BREAKDOWNS)}")
    try:
        info = peek(path, header_row=options.header_row)
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None
    mapping = map_columns(info.columns, options.columns, path)
    wide_labels = W.check(info, mapping, options.columns, options.wide, options.shape)
    wide_report = None
    if wide_labels is not None:  # one row per LSOA and period (or group), read now
        info, mapping, wide_report = W.reshape(info, mapping, options.wide, wide_labels)
    shape = options.shape or detect_shape(info.columns, mapping)
    if shape not in SHAPES:
        raise IngestError(f"unknown shape {shape!r}: {', '.join(SHAPES)}")
    level = "practice" if shape in ("fingertips", "practice") else "lsoa"
    definition = D.resolve(options, "denominator" in mapping or "outcome" in mapping or level == "practice", level)
    D.check_against_file(definition, path, shape, mapping)
    registrations = None
    if level == "practice":
        from geo.ingest import practices as P  # geopandas and the source loaders: only for practice files

        registrations = P.load_registrations(options.registrations, path)
    elif options.registrations:
        raise IngestError(f"{path}: --registrations is for GP practice files (a practice code with a numerator and "
                          f"denominator, or a Fingertips practice export); this file is {shape} per LSOA")
    options = replace(options, definition=definition)
    started = dt.datetime.now(dt.timezone.utc)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash the file while it is parsed
        digest = pool.submit(sha256_of, path)
        if level == "practice":
            result = P.ingest_practices(info, shape, mapping, options, store, registrations)
        elif shape == "records" and info.format == "csv":  # in chunks: memory does not grow with the file
            result = ingest_streamed(info, mapping, options, store, _plan, _ingest_lsoa, ahead=_lsoa_index)
        else:
            result = _ingest_lsoa(info, shape, mapping, options, store)
        sha256 = digest.result()
    synthetic = _synthetic_label(info) if options.synthetic is None else options.synthetic
    if ((result.meta or {}).get("registrations") or {}).get("synthetic"):
        synthetic = True  # values shared among LSOAs by made-up registrations are made up where they fall
    definition = D.with_default_standardisation(definition, options, result.counts)
    from geo.sources.indicator_definitions import data_years

    years, years_how = data_years(definition, result.counts, result.report.get("date_range"))
    notes = list(result.report.get("notes") or [])
    result.report["header_row"] = info.header_row
    left_out = breakdowns_left_out(shape, mapping, options.by)
    if left_out:
        notes.append(left_out)
    if wide_report is not None:
        notes.insert(0, wide_report.pop("note"))
        result.report["wide"] = wide_report
    if info.header_row > 1:
        notes.insert(0, _header_note(info, options))
    if years is None:
        notes.append(f"years of data {years_how}")
    result.report["notes"] = notes
    result.rows_not_used, result.report = cap_rows_not_used(result.rows_not_used, result.report,
                                                            info.limits.max_listed_rows)
    meta = {
        "shape": shape,
        "measure": options.measure or result.measure or options.name,
        "unit": definition.unit,
        "definition": definition.to_meta(),
        "level": definition.level,
        "years_of_data": years,
        "years_of_data_source": years_how,
        **(result.meta or {}),
        "higher_is_worse": options.higher_is_worse,
        "synthetic": synthetic,
        "nhs_indicator": options.nhs_indicator,
        "disclosure": options.disclosure,
        "source_file": path.name,
        "owner": options.owner,
        "owner_icb": options.owner_icb,
        "sha256": sha256,
        "ingested_at": started.isoformat(timespec="seconds"),
        "options": {k: v for k, v in asdict(options).items() if k not in ("name", "definition")},
        "columns": result.columns,
        "format": {"type": info.format, "encoding": info.encoding, "delimiter": info.delimiter,
                   "header_row": info.header_row},
        "report": result.report,
    }
    dataset = DatasetStore(store).save(options.name, meta, result.rows_not_used, counts=result.counts,
                                       practices=result.practices)
    result.dataset = dataset
    result.meta = meta
    return result


BREAKDOWN_WORDS = {"age_band": "age", "sex": "sex", "ethnic_group": "ethnic group", "period": "period"}


def breakdowns_found(mapping: dict[str, str]) -> dict[str, list[str]]:
    """breakdown -> the file's columns it can be made from (age bands from an age or age band
    column; a period from a period column, not from a date)."""
    roles = {"age_band": ("age", "age_band"), "sex": ("sex",), "ethnic_group": ("ethnicity",), "period": ("period",)}
    return {b: [mapping[r] for r in roles[b] if r in mapping] for b in BREAKDOWNS
            if any(r in mapping for r in roles[b])}


def breakdowns_left_out(shape: str, mapping: dict[str, str], by) -> str | None:
    """A note when a file of records has a column for a breakdown that was not asked for: its
    events are counted without it, so no rates by that group can be shown (the upload form's
    boxes start unticked; ethnicity is easily lost this way)."""
    if shape != "records":
        return None
    missing = {b: cols for b, cols in breakdowns_found(mapping).items() if b not in by}
    if not missing:
        return None
    listed = "; ".join(f"{BREAKDOWN_WORDS[b]} ({', '.join(cols)})" for b, cols in missing.items())
    return (f"the file has columns for {listed}, not kept as breakdowns (--by {','.join([*by, *missing])} keeps "
            f"them): no rates by {' or '.join(BREAKDOWN_WORDS[b] for b in missing)} can be shown for this dataset")


def describe_file(path: str | Path, header_row: int | None = None) -> dict:
    """What a file holds, for the upload form to fill itself in before the file is ingested: its
    columns, the row taken as the header, the columns found for each role, the breakdowns it can
    keep and any wide columns. Reads only the file's first rows (a CSV may be its first part)."""
    path = Path(path)
    try:
        info = peek(path, header_row=header_row)
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None
    mapping = map_columns(info.columns, {}, path)
    wide = W.find_wide_columns(info.columns, mapping)
    shape = "aggregated" if wide else detect_shape(info.columns, mapping)
    return {"columns": info.columns, "header_row": info.header_row, "header_found": info.header_found,
            "roles": mapping, "shape": shape, "breakdowns": breakdowns_found(mapping),
            "wide": {kind: list(labels) for kind, labels in wide.items()}}


def _header_note(info: InputTable, options: IngestOptions) -> str:
    above = "row 1" if info.header_row == 2 else f"rows 1-{info.header_row - 1}"
    how = (f"as asked (--header-row {options.header_row})" if options.header_row
           else "found below the title rows (--header-row N chooses another)")
    return (f"row {info.header_row} was taken as the header, {how}: {above} above it (titles or blank) "
            f"were not read as data")


MAX_LABEL = 200
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_label(value: str | None, what: str) -> None:
    """A label shown on maps and slides: at most :data:`MAX_LABEL` characters, no control characters."""
    if value is None:
        return
    if len(value) > MAX_LABEL:
        raise IngestError(f"{what} is {len(value):,} characters long; keep it to {MAX_LABEL} (it is shown on maps "
                          f"and slides)")
    if CONTROL_CHARACTERS.search(value):
        raise IngestError(f"{what} {value[:60]!r} holds a control character (such as a new line or tab); "
                          f"write it on one line")


def check_options(options: IngestOptions) -> None:
    """Refuse labels and disclosure rules that cannot be applied as given."""
    check_label(options.measure, "the measure")
    check_label(options.unit, "the unit")
    rule = options.disclosure or {}
    unknown = set(rule) - {"suppress_from", "suppress_to", "round_to"}
    if unknown:
        raise IngestError(f"unknown disclosure setting {', '.join(sorted(unknown))}: use suppress_to and round_to")
    for key, value in rule.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise IngestError(f"disclosure {key} must be a whole number, not {value!r}")
    if rule.get("round_to", 5) < 1:
        raise IngestError(f"--round-to {rule['round_to']}: counts are rounded to a multiple of a number of 1 or "
                          f"more (1 leaves them as they are; the HES rule is 5)")
    if rule.get("suppress_to", 7) < 0 or rule.get("suppress_from", 1) < 1:
        raise IngestError(f"--suppress-to {rule.get('suppress_to')}: suppression covers counts from 1 up to a "
                          f"number of 0 or more (0 suppresses nothing; the HES rule is 7)")
    if rule.get("round_to", 5) > 1000 or rule.get("suppress_to", 7) > 1000:
        raise IngestError("disclosure rules above 1,000 would hide every count; use --suppress-to and --round-to "
                          "of 1,000 or less")
    from geo.rates.disclosure import Rule

    try:
        floor = Rule.floor()
    except ValueError as exc:  # a setting written wrongly
        raise IngestError(str(exc)) from None
    if rule.get("suppress_to", floor.suppress_to) < floor.suppress_to:
        raise IngestError(f"--suppress-to {rule['suppress_to']} is below this server's disclosure floor: counts from "
                          f"1 to {floor.suppress_to} are always hidden (GAPMAP_MIN_SUPPRESS); give "
                          f"{floor.suppress_to} or more, or leave it out")
    if rule.get("round_to", floor.round_to) < floor.round_to:
        raise IngestError(f"--round-to {rule['round_to']} is below this server's disclosure floor: counts are always "
                          f"rounded to a multiple of at least {floor.round_to} (GAPMAP_MIN_ROUND); give "
                          f"{floor.round_to} or more, or leave it out")


def cap_rows_not_used(rows: pd.DataFrame, report: dict, limit: int) -> tuple[pd.DataFrame, dict]:
    """List at most ``limit`` rows not used or flagged (the first ones, in file order); the rest are
    summarised by reason in ``report["rows_not_listed"]`` (the report's ``reasons`` count them all)."""
    report = dict(report)
    if len(rows) <= limit:
        report["rows_not_listed"] = None
        return rows, report
    rest = rows.iloc[limit:]
    report["rows_not_listed"] = {"limit": int(limit), "rows": int(len(rest)), "reasons": reason_summary(rest)}
    return rows.iloc[:limit].reset_index(drop=True), report


def _rows_not_used(info: InputTable, reasons: RowReasons, counts: np.ndarray | None) -> pd.DataFrame:
    """One line per rejected or flagged row: row, column, value, reason, used, count."""
    parts = []
    for codes, used in ((reasons.code, False), (np.where(reasons.code == 0, reasons.warn, 0), True)):
        rows = np.flatnonzero(codes)
        if not len(rows):
            continue
        labels = np.array(reasons.labels, dtype=object)
        column = labels[codes[rows], 0]
        reason = labels[codes[rows], 1]
        value = np.empty(len(rows), dtype=object)
        for name in set(column):
            pick = column == name
            value[pick] = info.table[name].take(pa.array(rows[pick])).cast(pa.string()).to_pylist()
        for name, source in info.column_of_row.items():  # a wide file's cell: name its own column
            pick = column == name
            column = np.where(pick, source[rows], column)
        parts.append(pd.DataFrame({"row": info.row_number(rows), "column": column, "value": value,
                                   "reason": reason, "used": used,
                                   "count": 1.0 if counts is None else counts[rows]}))
    for line, text, reason in info.bad_rows:
        parts.append(pd.DataFrame({"row": [line], "column": [""], "value": [text[:200]], "reason": [reason],
                                   "used": [False], "count": [np.nan]}))
    if not parts:
        return pd.DataFrame(columns=["row", "column", "value", "reason", "used", "count"])
    return pd.concat(parts, ignore_index=True).sort_values(["row", "used"], kind="stable").reset_index(drop=True)


NEEDS = {"age_band": ("age", "age_band"), "sex": ("sex",), "ethnic_group": ("ethnicity",),
         "period": ("date", "period")}  # the roles (columns) each breakdown is made from


def _ingest_lsoa(info: InputTable, shape: str, mapping: dict[str, str], options: IngestOptions,
                 store: Store, seen_ids=None, streamed: bool = False) -> IngestResult:
    """Check every row of an ``aggregated`` or ``records`` file (or, ``streamed``, of one chunk of a
    streamed file, whose ``info.table`` is read already; ``seen_ids`` then finds record ids repeated
    from earlier chunks) and sum the used ones per LSOA 2021 (and breakdown): which columns to read, what each
    row counts, where it is, its breakdowns, duplicates, then 2011 codes carried to 2021 and the
    report."""
    by = _breakdowns_asked(info, shape, mapping, options)
    definition = options.definition
    once = getattr(store, "once", None)  # a streamed file: what each distinct value is, found once
    rows = _Rows(_read_needed(info, shape, mapping, by, definition), mapping,
                 once("per_value", dict) if once else None)
    row_count = _row_counts(rows) if shape == "aggregated" else None  # records: each row counts one
    outcome = _outcomes(rows) if shape == "records" and "outcome" in mapping else None
    places = _place_rows(rows, store)
    keys, band_bounds = _breakdown_keys(rows, shape, by)
    notes = _check_ages(rows, shape, definition)
    date_range = _check_dates(rows, shape, by, options, keys)
    if "period" in by and "period" not in keys:
        name, (distinct, index) = rows.values("period")
        labels = C.clean_text(distinct)
        rows.reasons.reject(name, index, np.where(labels == "", "period is empty", ""))
        keys["period"] = (labels, index)
    denominator = _denominators(rows, row_count) if shape == "aggregated" and "denominator" in mapping else None
    if outcome is not None:  # every record is one in the denominator; those with the outcome are the events
        row_count, denominator = outcome, np.ones(rows.n)
    _reject_duplicates(rows, shape, places.row_code_index, keys, seen_ids)
    counts = _counts_by_lsoa21(rows, places, keys, band_bounds, row_count, denominator, as_text=not streamed)
    rows_not_used = _rows_not_used(rows.info, rows.reasons, row_count)
    report = _lsoa_report(rows, row_count, counts, places.conversion, rows_not_used, date_range, keys,
                          summarise=not streamed)
    if denominator is not None:
        report["denominators_used"] = float(np.nansum(denominator[rows.reasons.ok]))
    report["notes"] = notes
    return IngestResult(report, rows_not_used, counts=counts, columns=mapping)


def _outcomes(rows: _Rows) -> np.ndarray:
    """Records with an outcome flag: 1.0 for yes, 0.0 for no; other values rejected."""
    name, (distinct, index) = rows.values("outcome")
    flag, why = C.parse_outcome(distinct)
    rows.reasons.reject(name, index, why)
    return flag[index]


def _check_ages(rows: _Rows, shape: str, definition) -> list[str]:
    """Reject rows whose age (or age band) is outside the indicator's ages: they are not in its
    population at risk. Returns report notes (ages that could not be checked)."""
    if definition is None or definition.all_ages:
        return []
    lo, hi = definition.age_lo, definition.age_hi
    top = 10_000 if hi is None else hi
    mapping = rows.mapping
    if "age" in mapping and (shape == "records" or "age_band" not in mapping):
        name, (distinct, index) = rows.values("age")
        age, why = C.parse_age(distinct)
        outside = (age >= 0) & ((age < lo) | (age > top))
        reason = np.array([f"age {a} is outside the indicator's ages {definition.ages}" if o else ""
                           for a, o in zip(age, outside)], dtype=object)
        rows.reasons.reject(name, index, np.where(why == "", reason, why))
        return []
    if "age_band" in mapping:
        name, (distinct, index) = rows.values("age_band")
        b_lo, b_hi, why = C.parse_age_band(distinct)
        b_top = np.where(b_hi < 0, 10_000, b_hi)
        outside = (why == "") & ((b_lo < lo) | (b_top > top))
        wholly = (b_top < lo) | (b_lo > top)
        reason = np.array([("" if not o else
                            f"age band {C.band_label(a, b)} is outside the indicator's ages {definition.ages}" if w
                            else f"age band {C.band_label(a, b)} reaches outside the indicator's ages "
                                 f"{definition.ages}") for a, b, o, w in zip(b_lo, b_hi, outside, wholly)],
                          dtype=object)
        rows.reasons.reject(name, index, np.where(why == "", reason, why))
        return []
    return [f"no age or age band column: the rows' ages were not checked against the indicator's ages "
            f"{definition.ages} (name the column with --column age=NAME)"]


def _breakdowns_asked(info: InputTable, shape: str, mapping: dict[str, str], options: IngestOptions) -> set[str]:
    """The breakdowns to keep (an aggregated file keeps the ones it has); refuse a file that lacks a
    place column, a count column (aggregated) or a column a breakdown needs."""
    path = info.path
    if "lsoa" not in mapping and "postcode" not in mapping:
        raise IngestError(f"{path}: no LSOA code or postcode column found; name it with --column lsoa=NAME "
                          f"or --column postcode=NAME. The file has: {', '.join(info.columns)}")
    by = set(options.by)
    if shape == "aggregated":
        by = {b for b, role in (("age_band", "age_band"), ("sex", "sex"), ("ethnic_group", "ethnicity"),
                                ("period", "period")) if role in mapping}
        if "count" not in mapping:
            raise IngestError(f"{path}: no count column found; name it with --column count=NAME")
    for breakdown in by:
        if not any(role in mapping for role in NEEDS[breakdown]):
            raise IngestError(f"{path}: cannot break down by {breakdown}: no "
                              f"{' or '.join(NEEDS[breakdown])} column found (name it with --column ROLE=NAME)")
    return by


def _columns_needed(shape: str, mapping: dict[str, str], by: set[str], definition=None
                    ) -> tuple[list[str], tuple[str, ...]]:
    """The columns the shape and breakdowns use, and those read as plain ids (not dictionaries)."""
    needed_roles = {"lsoa", "postcode", "date"} | ({"count", "denominator"} if shape == "aggregated"
                                                    else {"record_id", "outcome"})
    if definition is not None and not definition.all_ages:  # ages are checked against the indicator's
        needed_roles |= {"age", "age_band"}
    needed_roles |= {role for b in by for role in NEEDS[b]}
    if shape == "aggregated":
        needed_roles |= {"age_band", "sex", "ethnicity", "period"}
    wanted = [c for role, c in mapping.items() if role in needed_roles]
    plain = (mapping["record_id"],) if shape == "records" and "record_id" in mapping else ()
    return list(dict.fromkeys(wanted)), plain


def _plan(info: InputTable, shape: str, mapping: dict[str, str], options: IngestOptions):
    """Check the columns needed are there; (breakdowns, columns to read, columns read as plain ids).
    The streamed ingest (:mod:`geo.ingest.streaming`) reads each chunk by this plan."""
    by = _breakdowns_asked(info, shape, mapping, options)
    return (by, *_columns_needed(shape, mapping, by, options.definition))


def _read_needed(info: InputTable, shape: str, mapping: dict[str, str], by: set[str],
                 definition=None) -> InputTable:
    """Read only the columns the shape and breakdowns use (a streamed chunk is read already)."""
    if info.table is not None:
        return info
    wanted, plain = _columns_needed(shape, mapping, by, definition)
    try:
        return read(info, wanted, plain=plain)
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None


class _Rows:
    """The rows read, the reason (if any) each cannot be used, and each column's distinct values
    (computed once per column)."""

    MAX_REMEMBERED = 100_000  # distinct values per column whose reading is kept across chunks

    def __init__(self, info: InputTable, mapping: dict[str, str], memo: dict | None = None):
        self.info = info
        self.memo = memo  # a streamed file: (column, value) -> what ``per_value`` read it as
        self.table = info.table
        self.n = info.table.num_rows
        self.mapping = mapping
        self.reasons = RowReasons(self.n)
        self._values: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def per_value(self, role: str, read, distinct: np.ndarray) -> tuple[np.ndarray, ...]:
        """``read(distinct)`` (a tuple of arrays, one item per value), reading only the values that
        earlier chunks of a streamed file did not have."""
        if self.memo is None or not len(distinct):
            return read(distinct)
        known = self.memo.setdefault(role, {})
        new = [v for v in dict.fromkeys(distinct.tolist()) if v not in known]
        if new:
            out = read(np.array(new, dtype=object))
            self.memo.setdefault((role, "types"), [o.dtype for o in out])
            if len(known) < self.MAX_REMEMBERED:
                known.update({v: tuple(o[i] for o in out) for i, v in enumerate(new)})
            else:  # too many distinct values to keep: read them all, chunk by chunk
                return read(distinct)
        got = [known[v] for v in distinct.tolist()]
        return tuple(np.array([g[j] for g in got], dtype=dtype) for j, dtype in enumerate(self.memo[(role, "types")]))

    def values(self, role: str) -> tuple[str, tuple[np.ndarray, np.ndarray]]:
        """(column name, (distinct values, each row's index into them)) of a role's column."""
        name = self.mapping[role]
        if name not in self._values:
            self._values[name] = _dict(self.table, name)
        return name, self._values[name]


def _row_counts(rows: _Rows) -> np.ndarray:
    """Aggregated files: each row's count (they decide what each row is worth), bad ones rejected."""
    name, (distinct, index) = rows.values("count")
    parsed, why = C.parse_counts(distinct)
    rows.reasons.reject(name, index, why)
    return parsed[index]


@dataclass
class _Places:
    """Where each row is: ``code``/``kind`` is a table of LSOA codes (2021 or 2011) and
    ``row_code_index`` each row's index into it; ``lookup`` carries 2011 codes to 2021."""
    code: np.ndarray
    kind: np.ndarray
    row_code_index: np.ndarray
    conversion: dict
    lookup: pd.DataFrame


def _place_rows(rows: _Rows, store: Store) -> _Places:
    """Each row's LSOA, from its LSOA code (2021 or 2011) or else its postcode."""
    mapping, n, reasons = rows.mapping, rows.n, rows.reasons
    lsoa_codes, lookup = _lsoa_index(store)
    conversion = {"lsoa21": 0, "split": 0, "merged": 0, "irregular": 0, "postcode": 0}
    if "lsoa" in mapping:
        name, (distinct, index) = rows.values("lsoa")
        code, kind, why = lsoa_codes.classify(distinct)
        empty = np.array([not c for c in code])
        use_postcode = "postcode" in mapping and empty.any()
        if use_postcode:  # an empty LSOA code falls back to the postcode, when there is one
            why = np.where(empty, "", why)
        reasons.reject(name, index, why)
        row_code_index = index
        row_from_postcode = empty[index] if use_postcode else np.zeros(n, dtype=bool)
    else:
        code = np.array([], dtype=object)
        kind = np.array([], dtype=object)
        row_code_index = np.full(n, -1)
        row_from_postcode = np.ones(n, dtype=bool)
    if row_from_postcode.any():
        name, (pc_distinct, pc_index) = rows.values("postcode")
        pc_codes, why = _postcode_lsoas(pc_distinct, store, lsoa_codes)
        why_rows = np.where(row_from_postcode, why[pc_index], "")
        reasons.reject_rows(name, why_rows != "", why_rows)
        # append the postcode LSOAs to the code table, so every row points into one table
        offset = len(code)
        code = np.concatenate([code, pc_codes])
        kind = np.concatenate([kind, np.where(pc_codes != "", "lsoa21", "")]).astype(object)
        row_code_index = np.where(row_from_postcode, pc_index + offset, row_code_index)
        conversion["postcode"] = int((row_from_postcode & reasons.ok).sum())
    return _Places(code, kind, np.asarray(row_code_index), conversion, lookup)


def _postcode_lsoas(pc_distinct: np.ndarray, store: Store, lsoa_codes: C.LsoaCodes) -> tuple[np.ndarray, np.ndarray]:
    """(LSOA 2021 code or "", reason it cannot be used or "") of each distinct postcode."""
    keys = C.normalise_postcode(pd.Series(pc_distinct)).fillna("").to_numpy(dtype=object)
    found = store.postcodes([k for k in set(keys) if k], geometry=False).set_index("key")
    areas_read = set(store.postcodes(geometry=False)["area"].dropna()) if len(keys) else set()
    pc_lsoa = np.array([found["lsoa21cd"].get(k) if k in found.index else None for k in keys], dtype=object)
    why = np.full(len(keys), "", dtype=object)
    for i, k in enumerate(keys):
        if not k:
            why[i] = "no LSOA code and no postcode"
        elif k not in found.index:
            area = C.postcode_area(pd.Series([k])).iloc[0]
            why[i] = ("unknown postcode" if area in areas_read
                      else f"postcode area {area} not in the Code-Point Open files read")
        elif pd.isna(pc_lsoa[i]):
            why[i] = "postcode outside England"
        elif lsoa_codes.in_scope is not None and pc_lsoa[i] not in lsoa_codes.in_scope:
            why[i] = "postcode in an LSOA outside the area this store was built for"
    return np.array([c if isinstance(c, str) else "" for c in pc_lsoa], dtype=object), why


def _breakdown_keys(rows: _Rows, shape: str, by: set[str]) -> tuple[dict, dict]:
    """Age band, sex and ethnic group of each row, as (labels, row index into labels) per breakdown,
    and the age bounds of each band label."""
    mapping, reasons = rows.mapping, rows.reasons
    keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # breakdown -> (labels, row index into labels)
    band_bounds: dict = {}
    if "age_band" in by:
        if "age_band" in mapping and (shape == "aggregated" or "age" not in mapping):
            name, (distinct, index) = rows.values("age_band")
            lo, hi, why = C.parse_age_band(distinct)
            reasons.reject(name, index, why)
            labels = np.array([C.band_label(a, b) if not w else "" for a, b, w in zip(lo, hi, why)], dtype=object)
            keys["age_band"] = (labels, index)
            band_bounds = {lab: (a, b) for lab, a, b in zip(labels, lo, hi) if lab}
        else:
            name, (distinct, index) = rows.values("age")
            age, why = C.parse_age(distinct)
            reasons.reject(name, index, why)
            band = np.where(age >= 0, C.esp_band_index(np.maximum(age, 0)), -1)
            labels = np.array([C.ESP_BANDS[b] if b >= 0 else "" for b in band], dtype=object)
            keys["age_band"] = (labels, index)
            band_bounds = {lab: ((5 * i, 5 * i + 4) if i < 18 else (90, -1)) for i, lab in enumerate(C.ESP_BANDS)}
    if "sex" in by:
        name, (distinct, index) = rows.values("sex")
        sex, warn = C.classify_sex(distinct)
        reasons.warn_rows(name, index, warn)
        keys["sex"] = (sex, index)
    if "ethnic_group" in by:
        name, (distinct, index) = rows.values("ethnicity")
        group, warn = C.classify_ethnicity(distinct)
        reasons.warn_rows(name, index, warn)
        keys["ethnic_group"] = (group, index)
    return keys, band_bounds


def _check_dates(rows: _Rows, shape: str, by: set[str], options: IngestOptions, keys: dict):
    """Reject bad dates and dates outside the range asked for; for records broken down by period,
    add each row's period to ``keys``. Returns the (first, last) date used, or None."""
    if "date" not in rows.mapping:
        return None
    date_range = None
    name, (distinct, index) = rows.values("date")
    dates, why = rows.per_value("date", C.parse_dates, distinct)
    earliest = np.datetime64(options.date_from or EARLIEST_DATE)
    latest = np.datetime64(options.date_to or dt.date.today())
    valid = ~np.isnat(dates)
    out_of_range = valid & ((dates < earliest) | (dates > latest))
    why = np.where(out_of_range, [f"date {d} is outside {earliest} to {latest}" for d in dates], why).astype(object)
    rows.reasons.reject(name, index, why)
    usable = dates[valid & ~out_of_range]
    if len(usable):
        date_range = (str(usable.min()), str(usable.max()))
    if "period" in by and shape == "records":
        labels = np.where(why == "", _period_labels(dates, options.period_unit), "").astype(object)
        keys["period"] = (labels, index)
    return date_range


def _denominators(rows: _Rows, row_count: np.ndarray) -> np.ndarray:
    """Aggregated files: each row's denominator; bad ones, and ones smaller than the count, rejected."""
    name, (distinct, index) = rows.values("denominator")
    parsed, why = C.parse_counts(distinct)
    why = np.array([w.replace("count", "denominator") for w in why], dtype=object)
    rows.reasons.reject(name, index, why)
    denominator = parsed[index]
    small = rows.reasons.ok & (denominator < row_count)
    rows.reasons.reject_rows(name, small, "denominator is smaller than the count")
    return denominator


def _reject_duplicates(rows: _Rows, shape: str, row_code: np.ndarray, keys: dict, seen_ids=None) -> None:
    """Aggregated: a second row for the same LSOA and breakdowns; records: a repeated record id
    (``seen_ids``, when a file is streamed: ids seen in earlier chunks too)."""
    mapping, reasons, info = rows.mapping, rows.reasons, rows.info
    if shape == "aggregated":
        key_frame = pd.DataFrame({"code": row_code, **{k: idx for k, (_, idx) in keys.items()}})
        live = key_frame[reasons.ok]
        first = live.reset_index().groupby(list(key_frame.columns), sort=False)["index"].transform("first")
        dup_rows = live.index.to_numpy()[live.index.to_numpy() != first.to_numpy()]
        if len(dup_rows):
            why = np.full(rows.n, "", dtype=object)
            why[dup_rows] = [f"duplicate of row {r}"
                             for r in info.row_number(first.to_numpy()[live.index.to_numpy() != first.to_numpy()])]
            column = mapping["lsoa"] if "lsoa" in mapping else mapping["postcode"]
            reasons.reject_rows(column, why != "", why)
    elif "record_id" in mapping:
        name = mapping["record_id"]
        dup = (_duplicated(rows.table[name]) if seen_ids is None else seen_ids.duplicated(rows.table[name])) \
            & reasons.ok
        reasons.reject_rows(name, dup, "duplicate record id")


def _counts_by_lsoa21(rows: _Rows, places: _Places, keys: dict, band_bounds: dict, row_count: np.ndarray | None,
                      denominator: np.ndarray | None, as_text: bool = True) -> "pd.DataFrame | Coded":
    """The used rows summed per LSOA 2021 and breakdown; 2011 codes are shared among their 2021
    LSOAs by ONS's weights. Fills ``places.conversion`` with the rows of each kind of code. Without
    ``as_text`` (a streamed file's chunk) the sums are kept as numbers (:class:`geo.ingest.tally.Coded`)
    and a key may appear on more than one row: the chunks' rows are summed together
    (:meth:`geo.ingest.tally.Tally.add_coded`), and made text once, at the end."""
    coded = _coded_counts(rows, places, keys, band_bounds, row_count, denominator)
    if not as_text:
        return coded
    if not len(coded):
        counts = pd.DataFrame(columns=[c for c in coded.columns if c not in ("age_lo", "age_hi")])
        counts = counts.astype({c: "str" for c in coded.keys if c not in ("age_lo", "age_hi")})
        if "age_band" in coded.keys:
            counts["age_lo"] = np.empty(0, dtype=np.int64)
            counts["age_hi"] = np.empty(0, dtype=np.int64)
        return counts
    values = [c for c in coded.columns if c in coded.values]
    tally = Tally([c for c in coded.columns if c in coded.keys], values)
    tally.add_coded(coded)
    return tally.frame()[coded.columns]


def _coded_counts(rows: _Rows, places: _Places, keys: dict, band_bounds: dict, row_count: np.ndarray | None,
                  denominator: np.ndarray | None) -> Coded:
    """The used rows summed per code (2021 or 2011) and breakdown, the 2011 codes' sums shared
    among their 2021 LSOAs: one row per 2021 code and breakdown the rows of 2021 codes have, then
    one per 2011 code, breakdown and 2021 LSOA it went to, as numbers (each key column as its
    distinct values and each row's index into them)."""
    ok = rows.reasons.ok
    code, kind, row_code, conversion = places.code, places.kind, places.row_code_index, places.conversion
    code_index, parts, sums = _aggregate(row_code, ok, keys, row_count, denominator, len(code))
    per_code_rows = np.bincount(row_code[ok].astype(np.int64), minlength=len(code))
    is21, is11 = kind == "lsoa21", kind == "lsoa11"
    conversion["lsoa21"] = int(per_code_rows[is21].sum()) - conversion["postcode"]
    twentyone = np.flatnonzero(is21[code_index])  # grouped rows of a 2021 code
    eleven = np.flatnonzero(is11[code_index])
    group_rows, lsoa_code = twentyone, code_index[twentyone]  # each row's grouped row and 2021 code
    lsoa_values = code
    weight = None
    if len(eleven):
        # where each 2011 code goes: its 2021 LSOAs, in the lookup's order, with their weights
        codes11 = np.flatnonzero(is11)
        went = pd.DataFrame({"at": codes11, "code": code[codes11]}).merge(
            places.lookup.rename(columns={"lsoa11cd": "code"}), on="code", how="inner")
        at = went["at"].to_numpy()
        first = np.searchsorted(at, code_index[eleven])  # ``went`` keeps the order of ``codes11``
        n = np.searchsorted(at, code_index[eleven], side="right") - first
        spread = np.repeat(eleven, n)  # each grouped row of a 2011 code, once per 2021 LSOA
        target = np.repeat(first - np.cumsum(n) + n, n) + np.arange(n.sum())
        group_rows = np.concatenate([twentyone, spread])
        lsoa_code = np.concatenate([lsoa_code, len(code) + target])
        lsoa_values = np.concatenate([code, went["lsoa21cd"].to_numpy(dtype=object)])
        weight = went["weight"].to_numpy(dtype=np.float64)[target]
        # rows with a 2011 code, by how ONS says that code changed (a 2011 code still in use in
        # 2021 is read as a 2021 code, so only splits, merges and irregular changes appear here)
        change = went.drop_duplicates("at").set_index("at")["chgind"].reindex(codes11).to_numpy(dtype=object)
        for chg, label in (("S", "split"), ("M", "merged"), ("X", "irregular")):
            conversion[label] = int(per_code_rows[codes11][change == chg].sum())
    coded_keys = {"lsoa21cd": (lsoa_values, lsoa_code)}
    for name in BREAKDOWNS:
        if name in parts:
            values, digit = parts[name]
            coded_keys[name] = (values, digit[group_rows])
    coded_values = {}
    for name, total in sums.items():
        total = total[group_rows]
        if weight is not None:
            total[len(twentyone):] = total[len(twentyone):] * weight
        coded_values[name] = total
    dtypes = {name: "str" for name in coded_keys}
    columns = [*coded_keys, *coded_values]
    if "age_band" in coded_keys:
        bounds = list(band_bounds.values())
        fallback = bounds[-1] if bounds else (-1, -1)  # a label with no bounds (never a used row's)
        labels, digit = coded_keys["age_band"]
        lo_hi = np.array([band_bounds.get(label, fallback) for label in labels.tolist()], dtype=np.int64)
        lo_hi = lo_hi.reshape(len(labels), 2)
        coded_keys["age_lo"], coded_keys["age_hi"] = (lo_hi[:, 0], digit), (lo_hi[:, 1], digit)
        dtypes.update(age_lo=np.dtype(np.int64), age_hi=np.dtype(np.int64))
        columns += ["age_lo", "age_hi"]
    return Coded(coded_keys, coded_values, dtypes, columns)


def _lsoa_report(rows: _Rows, row_count: np.ndarray | None, counts: pd.DataFrame, conversion: dict,
                 rows_not_used: pd.DataFrame, date_range, keys: dict, summarise: bool = True) -> dict:
    """The validation report: rows and counts read = used + rejected, codes by kind, reasons (None
    without ``summarise``: a streamed file's chunk, whose rows not used are summarised together)."""
    ok, reasons, n, info = rows.reasons.ok, rows.reasons, rows.n, rows.info
    rejected = ~ok
    if isinstance(counts, Coded):  # a streamed chunk's sums, as numbers
        stored, lsoas = float(counts.values["count"].sum()), counts.distinct("lsoa21cd")
    else:
        stored = float(counts["count"].sum()) if len(counts) else 0.0
        lsoas = int(counts["lsoa21cd"].nunique()) if len(counts) else 0
    if row_count is None:
        counts_in, counts_rejected, counts_used = float(n), float(rejected.sum()), float(ok.sum())
    else:
        counts_in = float(np.nansum(row_count))
        counts_rejected = float(np.nansum(row_count[rejected]))
        counts_used = float(np.nansum(row_count[ok]))
    return {
        "rows_read": int(n + len(info.bad_rows)),
        "rows_used": int(ok.sum()),
        "rows_rejected": int(rejected.sum() + len(info.bad_rows)),
        "rows_flagged": int((reasons.warn > 0).sum()),
        "counts_read": counts_in,
        "counts_used": counts_used,
        "counts_rejected": counts_rejected,
        "counts_stored": stored,
        "codes": conversion,
        "reasons": reason_summary(rows_not_used) if summarise else None,
        "date_range": date_range,
        "lsoas": lsoas,
        "breakdowns": [k for k in BREAKDOWNS if k in keys],
    }


def _duplicated(ids) -> np.ndarray:
    """True for every repeat of an earlier id (the first occurrence is not a duplicate)."""
    if pa.types.is_integer(ids.type):
        return _repeats_in_order(ids.to_numpy())[0]
    return pd.Series(ids.to_pandas()).duplicated().to_numpy()


def _aggregate(row_code: np.ndarray, ok: np.ndarray, keys: dict, row_count: np.ndarray | None,
               denominator: np.ndarray | None, n_codes: int) -> tuple[np.ndarray, dict, dict]:
    """Sum the used rows by code and breakdowns with one ``bincount`` over a combined key.

    ``row_count`` is None for records (each row counts one). Returns, for each key present (zero
    counts included), its index into the code table, its breakdowns as {breakdown: (labels, each
    key's index into them)} and its sums as {"count": ..., "denominator": ...}.
    """
    code = row_code[ok].astype(np.int64)
    key = code.copy()
    parts = []
    for name, (labels, idx) in keys.items():
        values, inverse = np.unique(labels.astype(str), return_inverse=True)
        key = key * len(values) + inverse.astype(np.int64)[idx[ok]]
        parts.append((name, values))
    cardinality = int(n_codes * np.prod([len(v) for _, v in parts], dtype=np.float64))
    weights = {"count": None if row_count is None else row_count[ok]}
    if denominator is not None:
        weights["denominator"] = denominator[ok]
    if cardinality <= 20_000_000:
        rows = np.bincount(key, minlength=cardinality)
        present = np.flatnonzero(rows)
        sums = {name: (rows[present].astype(np.float64) if w is None
                       else np.bincount(key, weights=w, minlength=cardinality)[present])
                for name, w in weights.items()}
    else:  # too many combinations for a dense table
        present, inverse, rows_present = np.unique(key, return_inverse=True, return_counts=True)
        sums = {name: (rows_present.astype(np.float64) if w is None else np.bincount(inverse, weights=w))
                for name, w in weights.items()}
    out = {}
    rest = present
    for name, values in reversed(parts):
        rest, digit = np.divmod(rest, len(values))
        out[name] = (values, digit)
    return rest, out, sums


def _period_labels(days: np.ndarray, unit: str) -> np.ndarray:
    """The period of each day ('' where there is no day): '2024-05' (month), '2024' (year),
    '2024-Q2' (quarter) or '2024/25' (financial year, April to March)."""
    d = pd.DatetimeIndex(days)
    valid = ~d.isna()
    year = np.where(valid, d.year, 0).astype(np.int64)
    month = np.where(valid, d.month, 1).astype(np.int64)
    if unit == "month":
        label = pd.Series(year).astype(str) + "-" + pd.Series(month).astype(str).str.zfill(2)
    elif unit == "year":
        label = pd.Series(year).astype(str)
    elif unit == "quarter":
        label = pd.Series(year).astype(str) + "-Q" + pd.Series((month - 1) // 3 + 1).astype(str)
    else:
        start = np.where(month >= 4, year, year - 1)
        label = pd.Series(start).astype(str) + "/" + pd.Series((start + 1) % 100).astype(str).str.zfill(2)
    return np.where(valid, label.to_numpy(dtype=object), "").astype(object)

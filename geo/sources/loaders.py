"""Read catalogued source files by their official column names.

Every loader selects the columns the catalogue lists (official name -> Gapmap name), renames
them, and fails with :class:`MissingColumnError` naming the file and the column when one is
absent; ``optional_columns`` are read when the file has them and left out when it does not. Nothing else about a file is assumed: byte-order marks and stray spaces in headers are
ignored, thousands separators in numbers are read as numbers, and codes stay strings.
"""
from __future__ import annotations

import csv
import difflib
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.sources.catalogue import Source, SourceError, locate


class MissingColumnError(SourceError):
    """A source file lacks a column the catalogue says it must have."""

    def __init__(self, path: Path, missing: list[str], found: list[str]):
        self.path = Path(path)
        self.missing = missing
        self.found = found
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        super().__init__(
            f"{self.path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(hints)}. "
            f"The file has {len(found)} columns: {', '.join(map(repr, found[:12]))}"
            f"{' …' if len(found) > 12 else ''}"
        )


def _clean(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        try:
            return [_clean(c) for c in next(csv.reader(fh))]
        except StopIteration:
            raise SourceError(f"{path}: the file is empty") from None


def _select(source: Source, path: Path, found: list[str]) -> dict[str, str]:
    """Map the file's actual column names to Gapmap names, checking every required one."""
    present = {}
    for name in found:
        present[source.aliases.get(name, name)] = name
    missing = [official for official in source.columns if official not in present]
    if missing:
        raise MissingColumnError(path, missing, found)
    mapping = {present[official]: ours for official, ours in source.columns.items()}
    mapping.update({present[official]: ours for official, ours in source.optional_columns.items()
                    if official in present})  # read when the file has them, left out when not
    for pattern in source.column_patterns:
        regex = re.compile(pattern)
        matched = [name for name in found if regex.match(name)]
        if not matched:
            raise MissingColumnError(path, [f"columns matching /{pattern}/"], found)
        mapping.update({name: name for name in matched})
    return mapping


def read_csv_source(source: Source, path: Path, string_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    found = _csv_header(path)
    mapping = _select(source, path, found)
    wanted = set(mapping)
    # codes and names stay text; everything else is parsed as numbers where it can be
    text_like = {official for official, ours in mapping.items()
                 if ours.endswith(("cd", "cdh", "nm", "code", "name")) or ours in string_columns}
    frame = pd.read_csv(
        path,
        usecols=lambda c: _clean(c) in wanted,
        dtype={c: "string" for c in found if c in text_like},
        thousands=",",
        encoding="utf-8-sig",
        low_memory=False,
    )
    frame.columns = [_clean(c) for c in frame.columns]
    return frame.rename(columns=mapping)[list(dict.fromkeys(mapping.values()))]


def read_gpkg_source(source: Source, path: Path) -> gpd.GeoDataFrame:
    info = pyogrio.read_info(path)
    found = [str(c) for c in info["fields"]]
    mapping = _select(source, path, found)
    frame = pyogrio.read_dataframe(path, columns=list(mapping), use_arrow=True)
    if frame.crs is None:
        raise SourceError(f"{path}: the layer has no coordinate reference system")
    if frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    frame = frame.rename(columns=mapping)
    for column in mapping.values():
        frame[column] = frame[column].astype("string")
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    return frame


def read_codepoint(source: Source, folder: Path) -> pd.DataFrame:
    """Code-Point Open: headerless CSVs per postcode area; names from the Doc headers file."""
    headers_file = folder / "Doc" / "Code-Point_Open_Column_Headers.csv"
    if not headers_file.exists():
        raise SourceError(f"{headers_file}: Code-Point Open's column headers file is missing")
    with open(headers_file, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise SourceError(f"{headers_file}: expected a row of short and a row of long column names")
    names = [_clean(c) for c in rows[1]]
    mapping = _select(source, headers_file, names)
    files = sorted((folder / "Data" / "CSV").glob("*.csv"))
    if not files:
        raise SourceError(f"{folder / 'Data' / 'CSV'}: no postcode files")
    parts = [
        pd.read_csv(f, header=None, names=names, usecols=list(mapping), dtype="string")
        for f in files
    ]
    frame = pd.concat(parts, ignore_index=True).rename(columns=mapping)
    for column in ("easting", "northing", "positional_quality"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column])
    return frame


def read_source(source: Source, path: Path | None = None, mirror: Path | None = None,
                downloads: Path | None = None) -> pd.DataFrame:
    """Read a catalogued source from ``path`` or from wherever :func:`geo.sources.locate` finds it."""
    if path is None:
        path = locate(source, mirror=mirror, downloads=downloads)
    path = Path(path)
    if source.format == "gpkg":
        return read_gpkg_source(source, path)
    if source.format == "codepoint":
        return read_codepoint(source, path)
    if source.format == "csv":
        return read_csv_source(source, path)
    raise SourceError(f"{source.describe()}: unknown format {source.format!r}")


SEX_PREFIXES = {"F": "female", "M": "male"}  # ONS's sex-age column names: F0 .. F90, M0 .. M90
OPEN_AGE = 90  # ONS's last single year, F90/M90, is 90 and over


def population_by_sex_age(frame: pd.DataFrame, path: Path | str = "the population by sex") -> pd.DataFrame:
    """ONS's LSOA estimates by sex and single year of age as one row per LSOA and sex.

    ``frame`` is the catalogued layout of ``sape_mid2022_lsoa21_sex_age`` (``lsoa21cd``,
    ``total_population`` and the columns F0 .. F90 and M0 .. M90, 90 being 90 and over). Returns
    ``lsoa21cd``, ``sex`` (``'female'`` or ``'male'``) and ``age_0`` .. ``age_89``, ``age_90_plus``
    (the single-year layout of the mid-2020 population), in floating point, sorted by LSOA and
    sex. A sex-age column missing from the file is a :class:`MissingColumnError`.
    """
    wanted = [f"{prefix}{age}" for prefix in SEX_PREFIXES for age in range(OPEN_AGE + 1)]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise MissingColumnError(Path(path), missing, [str(c) for c in frame.columns])
    names = [f"age_{age}" for age in range(OPEN_AGE)] + [f"age_{OPEN_AGE}_plus"]
    parts = []
    for prefix, sex in SEX_PREFIXES.items():
        ages = frame[[f"{prefix}{age}" for age in range(OPEN_AGE + 1)]].astype("float64")
        ages.columns = names
        ages.insert(0, "sex", sex)
        ages.insert(0, "lsoa21cd", frame["lsoa21cd"].astype("string").to_numpy())
        parts.append(ages)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["lsoa21cd", "sex"], kind="stable").reset_index(drop=True)


REGISTRATIONS_SOURCE = "gp_registrations_lsoa"


def read_gp_registrations(path: Path) -> pd.DataFrame:
    """NHS England's patients registered at each GP practice by LSOA of residence
    (``gp-reg-pat-prac-lsoa-all.csv``, catalogued as ``gp_registrations_lsoa``): one row per
    practice and LSOA with ``practice_code``, ``practice_name``, ``lsoa_code``, ``patients`` and
    ``extract_date``. Only the ``SEX`` = ALL rows are kept (the -all file has nothing else; a file
    of male and female rows is summed over them). Patients whose postcode is invalid are in LSOA
    'CLOSED' and kept as such: they belong to the practice but to no LSOA."""
    from geo.sources.catalogue import get

    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: the registrations file is not there")
    if path.suffix.lower() not in (".csv", ".txt"):
        raise SourceError(f"{path}: the registrations file is NHS England's CSV gp-reg-pat-prac-lsoa-all.csv "
                          f"(take it out of the quarterly zip)")
    frame = read_csv_source(get(REGISTRATIONS_SOURCE), path, string_columns=("extract_date", "sex"))
    frame["practice_code"] = frame["practice_code"].astype("string").str.strip().str.upper()
    frame["lsoa_code"] = frame["lsoa_code"].astype("string").str.strip().str.upper()
    sexes = frame["sex"].astype("string").str.strip().str.upper()
    if (sexes == "ALL").any():
        frame = frame[sexes == "ALL"]
    patients = pd.to_numeric(frame["patients"], errors="coerce")
    bad = patients.isna() | (patients < 0)
    if bad.any():
        first = int(bad.to_numpy().nonzero()[0][0])
        raise SourceError(f"{path}: row {int(frame.index[first]) + 2}, column NUMBER_OF_PATIENTS: "
                          f"{frame['patients'].iloc[first]!r} is not a number of patients")
    frame = frame.assign(patients=patients.astype(float))
    return (frame.groupby(["practice_code", "lsoa_code"], sort=True, as_index=False)
            .agg(practice_name=("practice_name", "first"), patients=("patients", "sum"),
                 extract_date=("extract_date", "first"))
            [["practice_code", "practice_name", "lsoa_code", "patients", "extract_date"]])

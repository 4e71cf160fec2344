"""Readers for the layouts the publishers ship, turned into the catalogued (reference copy) layout.

Some sources are published in another shape than the one Gapmap reads (``derived = true`` in
``boundaries/sources.toml``). Each such entry has an ``[source.official]`` table naming a
``layout`` below and its settings; :func:`reshape` reads the official file in that layout and
writes the catalogued CSV at the source's ``path`` in the downloads folder, so the build reads a
downloaded copy exactly as it reads a mirror. Where each layout was confirmed is recorded per
entry in the catalogue (``layout_confirmed``).

Layouts:

``wide_to_long``
    A nomis bulk census zip (``census2021-ts021.zip``): one CSV per geography level inside
    (``member``, e.g. ``census2021-ts021-lsoa.csv``) with ``date``, ``geography``,
    ``geography code`` and one column per category (``Ethnic group: White`` ...; a trailing
    ``; measures: Value`` is ignored). Written one row per area and category: code, total,
    category, count, share.
``census_observations``
    The ONS census API (``/population-types/UR/census-observations?area-type=lsoa&dimensions=…``):
    JSON ``observations``, each with two ``dimensions`` (area, category) and an ``observation``.
``select_columns``
    A CSV (or a zip member, or a workbook sheet with ``header_row``) whose columns are renamed
    (``columns``: official name -> catalogued name), optionally keeping rows where a column
    holds one of ``keep`` values (GIAS's open establishments), read in ``encoding`` with
    ``separator``; ``header`` gives the column names of a file without a header row (ODS).
``workbook_sheets``
    IoD2025 File 8: one sheet per domain (``sheets``), each keyed by ``key``; every header is
    turned into snake_case as R's janitor ``clean_names`` does (``%`` -> ``percent``), the
    sheets are joined on the key, and ``rename`` maps the key to its catalogued name.
``postcode_list``
    The NHS website's hospital list (``Hospital.csv``: ``¬``-separated, Latin-1): ``name`` and
    ``postcode`` columns, located at the postcode's Code-Point Open position (EPSG:27700 to
    EPSG:4326). Rows whose postcode is not in Code-Point Open keep empty coordinates (the build
    reports them as having none).

Counts are written as floating-point numbers (``1474.0``), as the reference copies write them,
so a store built from downloads equals one built from a mirror.
"""
from __future__ import annotations

import fnmatch
import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd

from geo.sources.write_aside import write_aside
from geo.sources.catalogue import Source, SourceError

MEASURES_SUFFIX = re.compile(r";\s*measures:\s*Value$")


class LayoutError(SourceError):
    """The official file is not in the layout the catalogue describes."""


def snake_case(name: str) -> str:
    """A column header as janitor's ``clean_names`` writes it: 'Core homelessness rate (% of
    households)' -> 'core_homelessness_rate_percent_of_households'."""
    name = str(name).replace("%", " percent ").replace("#", " number ").replace("'", "").replace("\u2019", "")
    name = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_")
    return name.lower()


def _member(path: Path, pattern: str) -> bytes:
    """The bytes of the one zip member matching ``pattern`` (a glob on the member's file name)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise LayoutError(f"{path}: expected a zip archive ({exc})") from None
    with archive:
        names = [n for n in archive.namelist() if fnmatch.fnmatch(Path(n).name, pattern)]
        if len(names) != 1:
            listing = ", ".join(archive.namelist()[:12])
            raise LayoutError(f"{path}: expected one member matching {pattern!r}, found {len(names)} "
                              f"(the archive holds {listing})")
        return archive.read(names[0])


def _raw(path: Path, official: dict) -> io.BytesIO | Path:
    member = official.get("member")
    return io.BytesIO(_member(path, member)) if member else path


def _require(path: Path, frame: pd.DataFrame, wanted, where: str = "") -> None:
    from geo.sources.loaders import MissingColumnError

    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        label = Path(f"{path} [{where}]") if where else path
        raise MissingColumnError(label, missing, [str(c) for c in frame.columns])


def _numbers(path: Path, frame: pd.DataFrame, column: str, header_row: int = 1, where: str = "",
             name: str | None = None) -> pd.Series:
    """``frame[column]`` as floating-point numbers (thousands separators allowed, empty stays empty);
    a cell that is not a number is named by its file row and column."""
    text = frame[column].astype("string").str.replace(",", "", regex=False).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & text.notna() & (text != "")
    if bad.any():  # the frame's index is the row's position under the header in the file
        first = bad[bad].index[0]
        label = f"{path} [{where}]" if where else str(path)
        raise LayoutError(f"{label}, row {header_row + int(first) + 1}, column {name or repr(column)}: {text.loc[first]!r} is "
                          f"not a number ({int(bad.sum())} such cells)")
    return numbers.astype(float)


def read_wide_to_long(source: Source, path: Path) -> pd.DataFrame:
    o = source.official
    frame = pd.read_csv(_raw(path, o), dtype={o["code_column"]: "string"}, encoding=o.get("encoding", "utf-8-sig"))
    frame.columns = [MEASURES_SUFFIX.sub("", str(c)).strip() for c in frame.columns]
    categories: dict[str, str] = o["categories"]
    _require(path, frame, [o["code_column"], o["total_column"], *categories])
    parts = []
    where = o.get("member", "")
    total = _numbers(path, frame, o["total_column"], where=where)
    for column, label in categories.items():
        count = _numbers(path, frame, column, where=where)
        parts.append(pd.DataFrame({"code": frame[o["code_column"]], "total": total, "category": label,
                                   "count": count, "share": count / total}))
    long = pd.concat(parts).sort_values("code", kind="stable").reset_index(drop=True)
    names = o["output"]  # [code, total, category, count, share] as the reference copy names them
    return long.set_axis(names, axis=1)


def read_census_observations(source: Source, path: Path) -> pd.DataFrame:
    o = source.official
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LayoutError(f"{path}: expected the ONS census API's JSON ({exc})") from None
    observations = payload.get("observations") if isinstance(payload, dict) else None
    if not observations:
        raise LayoutError(f"{path}: no 'observations' in the ONS census API answer")
    area, category = o["area_dimension"], o["category_dimension"]
    rows = []
    for i, item in enumerate(observations):
        dims = {d.get("dimension_id"): d for d in item.get("dimensions", [])}
        if area not in dims or category not in dims:
            raise LayoutError(f"{path}: observation {i + 1} lacks the dimension {area!r} or {category!r} "
                              f"(it has {', '.join(map(str, dims))})")
        rows.append((dims[area]["option_id"], dims[area].get("option"), dims[category]["option"],
                     float(item["observation"])))
    total = payload.get("total_observations")
    if total is not None and int(total) != len(rows):
        raise LayoutError(f"{path}: the API said {total} observations but the answer holds {len(rows)}; "
                          f"fetch it again")
    return pd.DataFrame(rows, columns=o["output"])


def read_select_columns(source: Source, path: Path) -> pd.DataFrame:
    o = source.official
    columns: dict[str, str] = o["columns"]
    if o.get("sheet"):
        try:
            frame = pd.read_excel(path, sheet_name=o["sheet"], header=int(o.get("header_row", 1)) - 1, dtype=object)
        except ValueError as exc:
            raise LayoutError(f"{path}: no sheet called {o['sheet']!r} ({exc})") from None
        frame.columns = [_label(c) for c in frame.columns]
    else:
        header = o.get("header")
        frame = pd.read_csv(_raw(path, o), sep=o.get("separator", ","), encoding=o.get("encoding", "utf-8-sig"),
                            header=None if header else 0, dtype="string", keep_default_na=False, na_values=[""])
        if header:  # a file without a header row: the publisher's column list names the columns
            if frame.shape[1] != len(header):
                raise LayoutError(f"{path}: expected {len(header)} columns (the publisher's column list), "
                                  f"found {frame.shape[1]}")
            frame.columns = header
        frame.columns = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    wanted = list(columns) + [c for c in o.get("keep", {}) if c not in columns]
    _require(path, frame, wanted, o.get("sheet", ""))
    for column, values in o.get("keep", {}).items():
        frame = frame[frame[column].isin(values)]
    passthrough = [c for c in frame.columns if c not in columns
                   and any(re.match(p, c) for p in o.get("passthrough", []))]
    for pattern in o.get("passthrough", []):
        if not any(re.match(pattern, c) for c in passthrough):
            _require(path, frame, [f"columns matching /{pattern}/"], o.get("sheet", ""))
    out = frame[list(columns) + passthrough].rename(columns=columns)
    floats = [*o.get("float_columns", []), *passthrough]
    if o.get("numbers_as_float"):  # every column after the key, as the reference copy writes them
        floats += [c for c in out.columns[1:] if c not in floats]
    header_row = int(o.get("header_row", 1)) if o.get("sheet") else (0 if o.get("header") else 1)
    where = o.get("sheet") or o.get("member", "")
    official_name = {ours: theirs for theirs, ours in columns.items()}
    for name in floats:
        out[name] = _numbers(path, out, name, header_row, where, repr(official_name.get(name, name)))
    return out.reset_index(drop=True)


def _label(value) -> str:
    """A workbook header as text: the number 5 (or 5.0) is '5'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_workbook_sheets(source: Source, path: Path) -> pd.DataFrame:
    o = source.official
    key = o["key"]
    try:
        sheets = pd.read_excel(path, sheet_name=list(o["sheets"]), header=int(o.get("header_row", 1)) - 1)
    except ValueError as exc:
        raise LayoutError(f"{path}: the workbook lacks a sheet the catalogue names ({exc})") from None
    joined = None
    for name, frame in sheets.items():
        _require(path, frame, [key], name)
        frame = frame.rename(columns={c: snake_case(c) for c in frame.columns if c != key})
        frame = frame.drop(columns=[c for c in frame.columns if c != key and joined is not None and c in joined.columns])
        joined = frame if joined is None else joined.merge(frame, on=key, how="outer")
    joined = joined.rename(columns=o.get("rename", {}))
    wanted = list(source.columns)
    _require(path, joined, wanted, ", ".join(o["sheets"]))
    out = joined[wanted].copy()
    for column in wanted[1:]:  # figures as floating-point numbers, an empty cell stays empty
        out[column] = _numbers(path, out, column, int(o.get("header_row", 1)), "File 8 sheets")
    return out


def read_postcode_list(source: Source, path: Path, downloads: Path) -> pd.DataFrame:
    import geopandas as gpd

    from geo.sources import catalogue as catalogue
    from geo.sources.postcodes import normalise_postcode
    from geo.sources.loaders import read_source

    o = source.official
    separator = o.get("separator", ",")
    frame = pd.read_csv(_raw(path, o), sep=separator, encoding=o.get("encoding", "utf-8"), dtype="string",
                        keep_default_na=False, na_values=[""], engine="c" if separator.isascii() else "python")
    frame.columns = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    columns: dict[str, str] = o["columns"]
    _require(path, frame, list(columns))
    listing = frame[list(columns)].rename(columns=columns).reset_index(drop=True)
    codepoint = catalogue.get(o["postcodes_from"])
    folder = Path(downloads) / codepoint.path
    if not folder.exists():
        raise SourceError(f"{source.describe()}: hospitals are placed by postcode through {codepoint.id}, "
                          f"which must be fetched first ({folder} is missing)")
    postcodes = read_source(codepoint, path=folder)
    postcodes = postcodes[postcodes["positional_quality"] < 90]
    postcodes = postcodes.assign(key=normalise_postcode(postcodes["postcode"])).drop_duplicates("key")
    points = gpd.GeoSeries(gpd.points_from_xy(postcodes["easting"], postcodes["northing"]), crs=27700).to_crs(4326)
    where = pd.DataFrame({"longitude": points.x.to_numpy(), "latitude": points.y.to_numpy()},
                         index=postcodes["key"].to_numpy())
    keys = normalise_postcode(listing["postcode"])
    listing["longitude"] = keys.map(where["longitude"]).astype(float)
    listing["latitude"] = keys.map(where["latitude"]).astype(float)
    return listing


READERS = {
    "wide_to_long": read_wide_to_long,
    "census_observations": read_census_observations,
    "select_columns": read_select_columns,
    "workbook_sheets": read_workbook_sheets,
}


def read_official(source: Source, path: Path, downloads: Path) -> pd.DataFrame:
    """The official file at ``path`` in the catalogued layout (columns named as the reference copy)."""
    layout = source.official.get("layout")
    if layout == "postcode_list":
        return read_postcode_list(source, path, downloads)
    if layout not in READERS:
        raise SourceError(f"{source.describe()}: no reader for the official layout {layout!r}")
    return READERS[layout](source, Path(path))


def reshape(source: Source, path: Path, downloads: Path) -> Path:
    """Read the official file and write the catalogued CSV at ``downloads/source.path``.

    The CSV is written beside its place and moved there when complete, so a failed reshape never
    leaves a half file that the build would read.
    """
    frame = read_official(source, path, downloads)
    if frame.empty:
        raise LayoutError(f"{path}: no rows left after reading the official layout of {source.id}")
    return write_aside(Path(downloads) / source.path, lambda tmp: frame.to_csv(tmp, index=False))


__all__ = ["reshape", "read_official", "snake_case", "LayoutError"]

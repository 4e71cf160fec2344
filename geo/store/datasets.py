"""Uploaded activity datasets, kept beside the store with their provenance and validation report.

Layout::

    <store>/datasets/<name>            -> .versions/<name>-<id>   (symbolic link)
    <store>/datasets/.versions/<name>-<id>/meta.json     provenance, options, measure, report
    <store>/datasets/.versions/<name>-<id>/counts.parquet  counts per LSOA 2021 (and breakdowns)
    <store>/datasets/.versions/<name>-<id>/practices.parquet  GP practice values (practice files)
    <store>/datasets/.versions/<name>-<id>/rows_not_used.csv  rows rejected or flagged, with reasons

Saving writes a new version aside and replaces the link atomically, so re-ingesting a file
under the same name replaces it in one step and a failed ingest leaves the store as it was.
Datasets live outside the builds, so rebuilding the store keeps them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import GapmapError
from geo.rates.standard_population import ESP2013
from geo.store.folder import Store, StoreError, remove_leftover

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # used with fullmatch: "$" would accept a final newline
POPULATION_SOURCE = "ONS mid-2020 LSOA population estimates (single year of age), carried to LSOA 2021 codes"
ETHNIC_POPULATION_SOURCE = "Census 2021 usual residents by ethnic group"


class DatasetError(GapmapError):
    """A dataset name is invalid or unknown."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise DatasetError(f"dataset name {name!r}: use lower-case letters, digits, '-' and '_' "
                           f"(up to 64, starting with a letter or digit), e.g. ae-attendances-2024")
    return name


@dataclass
class Dataset:
    name: str
    path: Path

    @property
    def version(self) -> str:
        """This version's id (its folder's name): part of cache keys."""
        return self.path.name

    @property
    def meta(self) -> dict:
        return json.loads((self.path / "meta.json").read_text())

    def counts(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "counts.parquet")

    def practices(self):
        """GP practice points (a GeoDataFrame) of a Fingertips dataset."""
        import geopandas as gpd

        return gpd.read_parquet(self.path / "practices.parquet")

    def rows_not_used(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "rows_not_used.csv", dtype=str, keep_default_na=False)

    @property
    def kind(self) -> str:
        """``lsoa`` for counts per LSOA, also when they were attributed from GP practices (which
        keep their practices.parquet too); ``practices`` for older Fingertips datasets of practice
        values only."""
        if (self.path / "counts.parquet").exists():
            return "lsoa"
        return "practices" if (self.path / "practices.parquet").exists() else "lsoa"


class DatasetStore:
    """The datasets of a store: kept in folders beside a folder store; for another store (PostGIS),
    ``DatasetStore(store)`` returns that store's own dataset store, with the same methods."""

    def __new__(cls, store=None):
        if store is None:
            from geo.store import open_store

            store = open_store()
        if not isinstance(store, Store) and hasattr(store, "dataset_store"):
            return store.dataset_store()
        return super().__new__(cls)

    def __init__(self, store: Store | None = None):
        self.store = store or Store()
        self.root = self.store.root / "datasets"

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_symlink() and p.exists())

    def get(self, name: str) -> Dataset:
        link = self.root / check_name(name)
        if not link.exists():
            known = ", ".join(self.names()) or "none yet"
            raise DatasetError(f"no dataset called {name!r} (datasets: {known})")
        return Dataset(name, link.resolve())

    def list(self) -> list[dict]:
        return [self.get(n).meta for n in self.names()]

    def clean_leftovers(self, older_than: float | None = None) -> list[Path]:
        """Delete what dead ingests left: partial versions, temporary links, and versions no
        dataset points at (older than ``older_than`` seconds, so a running ingest is never
        touched). Returns what went."""
        from geo.store.folder import LEFTOVER_AGE_SECONDS

        cutoff = time.time() - (LEFTOVER_AGE_SECONDS if older_than is None else older_than)
        versions = self.root / ".versions"
        if not versions.exists():
            return []
        in_use = {p.resolve() for p in self.root.iterdir() if p.is_symlink()}
        gone = []
        for path in list(versions.iterdir()) + list(self.root.glob(".link-*")):
            try:
                if path.lstat().st_mtime >= cutoff or path.resolve() in in_use:
                    continue
                remove_leftover(path)
                gone.append(path)
            except FileNotFoundError:
                continue
        return gone

    def save(self, name: str, meta: dict, rows_not_used: pd.DataFrame, counts: pd.DataFrame | None = None,
             practices=None) -> Dataset:
        check_name(name)
        self.clean_leftovers()
        versions = self.root / ".versions"
        versions.mkdir(parents=True, exist_ok=True)
        version = f"{name}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        partial = versions / f".partial-{version}"
        partial.mkdir()
        try:
            if counts is not None:
                counts.to_parquet(partial / "counts.parquet", index=False)
            if practices is not None:
                practices.to_parquet(partial / "practices.parquet", index=False)
            rows_not_used.to_csv(partial / "rows_not_used.csv", index=False)
            (partial / "meta.json").write_text(json.dumps({"name": name, **meta}, indent=2, default=str))
            final = versions / version
            os.replace(partial, final)
            tmp_link = self.root / f".link-{version}"
            os.symlink(Path(".versions") / version, tmp_link)
            link = self.root / name
            old = link.resolve() if link.exists() else None
            os.replace(tmp_link, link)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if old is not None and old != final:
            shutil.rmtree(old, ignore_errors=True)
        return Dataset(name, final)

    def set_shared(self, name: str, shared: bool) -> None:
        """Mark the dataset ``shared`` (seen by users of every ICB) or not, in its meta.json,
        replaced atomically (see :mod:`geo.store.dataset_scope`)."""
        dataset = self.get(name)
        meta = dataset.meta
        meta["shared"] = bool(shared)
        tmp = dataset.path / f".meta-{uuid.uuid4().hex[:6]}.json"
        tmp.write_text(json.dumps(meta, indent=2, default=str))
        os.replace(tmp, dataset.path / "meta.json")

    def versions(self) -> list[str]:
        """Every dataset version kept (one per dataset, unless a save is under way)."""
        versions = self.root / ".versions"
        return sorted(p.name for p in versions.iterdir() if not p.name.startswith(".")) if versions.exists() else []

    def remove(self, name: str) -> None:
        dataset = self.get(name)
        (self.root / name).unlink()
        shutil.rmtree(dataset.path, ignore_errors=True)


def _esp_weight(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ESP 2013 weight of each age band (``hi`` -1 for an open band such as 90+): the sum of the
    5-year ESP bands it covers, so 0-4 is 5,000, 85-89 is 1,500, 90+ is 1,000 and 85+ is 2,500.
    Missing where the band does not start and end on the ESP's 5-year boundaries (the top band is
    90+, so a closed band must end by 89)."""
    out = np.full(len(lo), np.nan)
    for i, (a, b) in enumerate(zip(lo, hi)):
        a, b = int(a), int(b)
        if a % 5 or a > 90 or a < 0:
            continue
        if b < 0:  # open band a+ covers the ESP bands from a to 90+
            last = len(ESP2013) - 1
        elif (b + 1) % 5 == 0 and b < 90 and b >= a:
            last = (b + 1) // 5 - 1
        else:
            continue
        out[i] = float(sum(ESP2013[a // 5:last + 1]))
    return out


BREAKDOWN_COLUMNS = ("age_band", "sex", "ethnic_group", "period")
MAX_GRID_ROWS = 5_000_000  # every LSOA x breakdown cell is a row: bound the cost of one request
CENSUS_ETHNIC_GROUPS = ("asian", "black", "mixed", "white", "other")
SEXES_WITHOUT_POPULATION = ("male", "female", "unknown")


def _age_bands(counts: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """The age bands every LSOA is given a row for: for record-level files (ages put into the
    ESP 2013 bands by Gapmap) all 19 ESP bands, so that ages with no event anywhere still count in
    the denominator; for files that bring their own bands, the bands the file uses."""
    from geo.rates.standard_population import ESP_BANDS

    present = counts[["age_band", "age_lo", "age_hi"]].drop_duplicates()
    esp = pd.DataFrame({"age_band": list(ESP_BANDS), "age_lo": [5 * i for i in range(19)],
                        "age_hi": [5 * i + 4 for i in range(18)] + [-1]})
    as_esp = present.merge(esp, how="left", on=["age_lo", "age_hi"], suffixes=("", "_esp"))
    if meta.get("shape") == "records" and as_esp["age_band_esp"].notna().all():
        return esp.astype({"age_lo": "int64", "age_hi": "int64"})
    return present.sort_values(["age_lo", "age_hi"]).reset_index(drop=True)


def _full_grid(lsoa_codes: pd.Series, counts_all: pd.DataFrame, kept: list[str], meta: dict,
               ethnic_groups: tuple[str, ...], ages: tuple[int, int] | None = None
               ) -> tuple[pd.DataFrame, np.ndarray, list[pd.DataFrame]]:
    """Every LSOA of the extent crossed with every value of each kept breakdown (LSOA first, then
    each breakdown in order, as a cross join gives them), the LSOA codes and the values of each
    breakdown (what :func:`_cell_of` needs to place a count in the grid)."""
    codes = pd.Series(lsoa_codes, dtype=object).drop_duplicates().to_numpy()
    parts = []
    for column in kept:
        if column == "age_band":
            values = _age_bands(counts_all, meta)
            if ages is not None:  # only the bands that reach into these ages
                top = np.where(values["age_hi"].to_numpy(int) < 0, 200, values["age_hi"].to_numpy(int))
                values = values[(top >= ages[0]) & (values["age_lo"].to_numpy(int) <= ages[1])]
        elif column == "ethnic_group":
            seen = counts_all["ethnic_group"].dropna().astype(str).unique().tolist()
            values = pd.DataFrame({"ethnic_group": list(dict.fromkeys([*ethnic_groups, *sorted(seen)]))})
        else:
            values = pd.DataFrame({column: sorted(counts_all[column].dropna().astype(str).unique().tolist())})
        parts.append(values.reset_index(drop=True))
    sizes = [len(v) for v in parts]
    size = len(codes) * int(np.prod(sizes)) if parts else len(codes)
    if size > MAX_GRID_ROWS:
        raise DatasetError(f"{size:,} LSOA x breakdown cells is more than Gapmap computes at once "
                           f"({MAX_GRID_ROWS:,}): keep fewer breakdowns ({', '.join(kept)}) or a smaller extent")
    inner = int(np.prod(sizes)) if parts else 1
    # columns taken by position from each part's own array (no strings rebuilt one by one)
    grid = {"lsoa21cd": pd.array(codes, dtype="str").take(np.repeat(np.arange(len(codes)), inner))}
    for j, values in enumerate(parts):
        after = int(np.prod(sizes[j + 1:])) if j + 1 < len(parts) else 1
        row = np.tile(np.repeat(np.arange(len(values)), after), len(codes) * (inner // (len(values) * after)))
        for column in values.columns:
            array = values[column].array if values[column].dtype != object else pd.array(values[column], dtype="str")
            grid[column] = array.take(row)
    return pd.DataFrame(grid), codes, parts


def _cell_of(grid_codes: np.ndarray, parts: list[pd.DataFrame], kept: list[str], summed: pd.DataFrame) -> np.ndarray:
    """The row of the full grid (:func:`_full_grid`) each row of ``summed`` falls in, -1 where none
    (an LSOA outside the extent, or a missing breakdown value). Age bands match by their bounds."""
    cell = pd.Index(grid_codes).get_indexer(summed["lsoa21cd"].astype(object))
    found = cell >= 0
    for column, values in zip(kept, parts):
        if column == "age_band":
            index = pd.MultiIndex.from_arrays([values["age_lo"].astype(int), values["age_hi"].astype(int)])
            at = index.get_indexer(pd.MultiIndex.from_arrays([summed["age_lo"].astype(int),
                                                              summed["age_hi"].astype(int)]))
        else:
            given = summed[column]
            at = pd.Index(values[column].astype(object)).get_indexer(given.astype(str).astype(object))
            at = np.where(given.notna().to_numpy(), at, -1)
        found &= at >= 0
        cell = cell * len(values) + at
    return np.where(found, cell, -1)


def rates(dataset: Dataset, store: Store, icb: str | None = None, lad: str | None = None,
          keep: tuple[str, ...] | None = None, ward: str | None = None,
          ages: tuple[int, int] | None = None) -> pd.DataFrame:
    """Counts per LSOA (and breakdown) with the denominator a rate needs, for EVERY LSOA of the
    extent and every value of each kept breakdown, including those with no events (count 0).

    A rate's denominator is the whole population of its group within the extent, wherever the
    events fell: an LSOA (or age band, or ethnic group of an LSOA) with no events still adds its
    residents. So the rows are the full grid, not only the cells a file happened to hold.

    Columns: ``lsoa21cd``, the kept breakdowns, ``count`` (0 where no event), ``population`` and
    ``population_source``: the denominator supplied with the data where the file had one (then
    only the file's rows are returned, as no denominator is known for the others); else the
    population of that age band from the ONS mid-2020 estimates, of that ethnic group from Census
    2021 (none for 'unknown'), or of all ages. Age bands are all 19 ESP 2013 bands for record-level
    files and the file's own bands otherwise. Rows broken down by sex get no denominator: no LSOA
    population by sex is available. Age-banded rows also get ``esp_weight``, the European Standard
    Population 2013 weight of the band, for a directly standardised rate. ``keep`` names the
    breakdowns to keep (the others are summed over), for example ``keep=("age_band",)`` for a
    directly standardised rate; ``None`` keeps every breakdown the dataset has. ``ages`` (lowest,
    highest; 200 for no limit), with age bands kept and no denominator supplied: only the age bands
    that reach into those ages get rows (the events of the other bands are left out).
    """
    counts = dataset.counts()
    meta = dataset.meta
    present = [c for c in BREAKDOWN_COLUMNS if c in counts.columns]
    kept = present if keep is None else list(keep)
    unknown = set(kept) - set(present)
    if unknown:
        raise DatasetError(f"dataset {dataset.name!r} has no breakdown {', '.join(sorted(unknown))}")
    keys = ["lsoa21cd", *kept] + (["age_lo", "age_hi"] if "age_band" in kept else [])
    values = [c for c in ("count", "denominator") if c in counts]
    summed = counts.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()
    lsoas = store.lsoas(icb=icb, lad=lad, ward=ward, geometry=False,
                        columns=["lsoa21cd"] + [c for c in store.columns("lsoas") if c.startswith("ethnic_")
                                                and c.endswith("_residents")])
    in_extent = pd.Index(lsoas["lsoa21cd"].astype(object)).get_indexer(summed["lsoa21cd"].astype(object)) >= 0
    summed = summed[in_extent].reset_index(drop=True)
    if "denominator" in summed:
        out = summed.rename(columns={"denominator": "population"})
        out["population_source"] = "supplied with the data"
    else:
        groups = tuple(g for g in CENSUS_ETHNIC_GROUPS if f"ethnic_{g}_residents" in lsoas.columns)
        out, codes, parts = _full_grid(lsoas["lsoa21cd"], counts, kept, meta, groups, ages)
        cell = _cell_of(codes, parts, kept, summed)
        used = cell >= 0
        out["count"] = np.bincount(cell[used], weights=summed["count"].to_numpy(float)[used], minlength=len(out))
        pop = store.population_by_age(icb=icb, lad=lad, ward=ward).set_index("lsoa21cd")
        row = pop.index.get_indexer(out["lsoa21cd"])
        known = row >= 0
        if "age_band" in kept:
            ages = pop[[c for c in pop.columns if c.startswith("age_")]].to_numpy(float)
            cum = np.concatenate([np.zeros((len(pop), 1)), np.cumsum(ages, axis=1)], axis=1)
            top = ages.shape[1] - 1  # the last single-year column is 90+
            lo = np.minimum(out["age_lo"].to_numpy(int), top + 1)
            hi = out["age_hi"].to_numpy(int)
            hi = np.where(hi < 0, top, np.minimum(hi, top))
            value = cum[np.where(known, row, 0), hi + 1] - cum[np.where(known, row, 0), lo]
            out["population"] = np.where(known, value, np.nan)
            out["population_source"] = POPULATION_SOURCE + ", by age band"
        elif "ethnic_group" in kept:
            residents = lsoas.set_index("lsoa21cd")
            long = residents[[f"ethnic_{g}_residents" for g in groups]].rename(
                columns={f"ethnic_{g}_residents": g for g in groups}).stack()
            long.index.names = ["lsoa21cd", "ethnic_group"]
            index = pd.MultiIndex.from_arrays([out["lsoa21cd"], out["ethnic_group"]])
            out["population"] = long.astype(float).reindex(index).to_numpy()
            out["population_source"] = np.where(out["ethnic_group"].isin(groups), ETHNIC_POPULATION_SOURCE,
                                                 "none: no population of this ethnic group is available")
        else:
            out["population"] = np.where(known, pop["population_mid2020"].to_numpy(float)[np.where(known, row, 0)],
                                         np.nan)
            out["population_source"] = POPULATION_SOURCE
        if "sex" in kept:
            by_sex = out["sex"].isin(SEXES_WITHOUT_POPULATION)
            out.loc[by_sex, "population"] = np.nan
            out.loc[by_sex, "population_source"] = "none: no LSOA population by sex is available"
    if "age_band" in kept:  # the weight of each distinct band, then spread over the rows
        bands = out[["age_lo", "age_hi"]].drop_duplicates()
        bands["esp_weight"] = _esp_weight(bands["age_lo"].to_numpy(), bands["age_hi"].to_numpy())
        out = out.merge(bands, how="left", on=["age_lo", "age_hi"])
    return out


__all__ = ["Dataset", "DatasetStore", "DatasetError", "rates", "StoreError"]

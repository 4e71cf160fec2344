"""Uploaded activity datasets, kept beside the store with their provenance and validation report.

Layout::

    <store>/datasets/<name>            -> .versions/<name>-<id>   (symbolic link)
    <store>/datasets/.versions/<name>-<id>/meta.json     provenance, options, measure, report
    <store>/datasets/.versions/<name>-<id>/counts.parquet  counts per LSOA 2021 (and breakdowns)
    <store>/datasets/.versions/<name>-<id>/practices.parquet  GP practice values (Fingertips files)
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
from geo.store.folder import Store, StoreError

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
POPULATION_SOURCE = "ONS mid-2020 LSOA population estimates (single year of age), carried to LSOA 2021 codes"
ETHNIC_POPULATION_SOURCE = "Census 2021 usual residents by ethnic group"


class DatasetError(GapmapError):
    """A dataset name is invalid or unknown."""


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise DatasetError(f"dataset name {name!r}: use lower-case letters, digits, '-' and '_' "
                           f"(up to 64, starting with a letter or digit), e.g. ae-attendances-2024")
    return name


@dataclass
class Dataset:
    name: str
    path: Path

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

    def save(self, name: str, meta: dict, rows_not_used: pd.DataFrame, counts: pd.DataFrame | None = None,
             practices=None) -> Dataset:
        check_name(name)
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

    def versions(self) -> list[str]:
        """Every dataset version kept (one per dataset, unless a save is under way)."""
        versions = self.root / ".versions"
        return sorted(p.name for p in versions.iterdir() if not p.name.startswith(".")) if versions.exists() else []

    def remove(self, name: str) -> None:
        dataset = self.get(name)
        (self.root / name).unlink()
        shutil.rmtree(dataset.path, ignore_errors=True)


def _esp_weight(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ESP 2013 weight of each age band; missing where the band does not follow 5-year boundaries."""
    out = np.full(len(lo), np.nan)
    for i, (a, b) in enumerate(zip(lo, hi)):
        top = 90 if b < 0 else b + 1
        if a % 5 or (b >= 0 and (b + 1) % 5 and b + 1 < 90) or (b < 0 and a > 90):
            continue
        first, last = a // 5, (18 if b < 0 or b >= 89 else top // 5 - 1)
        out[i] = float(sum(ESP2013[first:last + 1]))
    return out


def rates(dataset: Dataset, store: Store, icb: str | None = None, lad: str | None = None,
          keep: tuple[str, ...] | None = None, ward: str | None = None) -> pd.DataFrame:
    """Counts per LSOA (and breakdown) with the denominator a rate needs.

    Columns: the dataset's keys, ``count``, ``population`` and ``population_source`` (the
    supplied denominator where the file had one; else the population of that age band from the
    mid-2020 estimates, or of that ethnic group from Census 2021, or all ages). Rows broken down
    by sex get no denominator: no LSOA population by sex is available. Age-banded rows also get
    ``esp_weight``, the European Standard Population 2013 weight of the band, for a directly
    standardised rate. ``keep`` names the breakdowns to keep (the others are summed over), for
    example ``keep=("age_band",)`` for a directly standardised rate per LSOA.
    """
    counts = dataset.counts()
    if keep is not None:  # sum over the breakdowns not kept
        unknown = set(keep) - set(counts.columns)
        if unknown:
            raise DatasetError(f"dataset {dataset.name!r} has no breakdown {', '.join(sorted(unknown))}")
        keys = ["lsoa21cd", *keep] + (["age_lo", "age_hi"] if "age_band" in keep else [])
        values = [c for c in ("count", "denominator") if c in counts]
        counts = counts.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()
    lsoas = store.lsoas(icb=icb, lad=lad, ward=ward, geometry=False,
                        columns=["lsoa21cd"] + [c for c in store.columns("lsoas") if c.startswith("ethnic_")
                                                and c.endswith("_residents")])
    counts = counts[counts["lsoa21cd"].isin(set(lsoas["lsoa21cd"]))].reset_index(drop=True)
    if "denominator" in counts:
        counts["population"] = counts.pop("denominator")
        counts["population_source"] = "supplied with the data"
    else:
        pop = store.population_by_age(icb=icb, lad=lad, ward=ward).set_index("lsoa21cd")
        ages = pop[[c for c in pop.columns if c.startswith("age_")]].to_numpy()
        row = pop.index.get_indexer(counts["lsoa21cd"])
        if "age_lo" in counts:
            lo = counts["age_lo"].to_numpy()
            hi = np.where(counts["age_hi"].to_numpy() < 0, 90, counts["age_hi"].to_numpy())
            cum = np.concatenate([np.zeros((len(pop), 1)), np.cumsum(ages, axis=1)], axis=1)
            counts["population"] = cum[row, np.minimum(hi, 90) + 1] - cum[row, np.minimum(lo, 91)]
            counts["population_source"] = POPULATION_SOURCE + ", by age band"
        elif "ethnic_group" in counts:
            residents = lsoas.set_index("lsoa21cd")
            values = []
            for code, group in zip(counts["lsoa21cd"], counts["ethnic_group"]):
                column = f"ethnic_{group}_residents"
                values.append(residents.at[code, column] if column in residents else np.nan)
            counts["population"] = values
            counts["population_source"] = ETHNIC_POPULATION_SOURCE
        else:
            counts["population"] = pop["population_mid2020"].to_numpy()[row]
            counts["population_source"] = POPULATION_SOURCE
        if "sex" in counts:
            by_sex = counts["sex"].isin(["male", "female", "unknown"])
            counts.loc[by_sex, "population"] = np.nan
            counts.loc[by_sex, "population_source"] = "none: no LSOA population by sex is available"
    if "age_lo" in counts:
        counts["esp_weight"] = _esp_weight(counts["age_lo"].to_numpy(), counts["age_hi"].to_numpy())
    return counts


__all__ = ["Dataset", "DatasetStore", "DatasetError", "rates", "StoreError"]

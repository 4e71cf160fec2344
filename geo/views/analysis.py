"""One entry point for the statistics on an extent: what the app, the exports and ``gapmap
analyse`` call.

An *indicator* is either a numeric column of the LSOA table (IMD 2025 and domain scores, the
IoD2025 underlying indicators such as ``acute_morbidity_indicator``) or an ingested dataset,
whose LSOA value is its crude rate per 1,000 residents (count over population, see
:func:`geo.store.datasets.rates`). An *extent* is England, an ICB, a LAD or a ward.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import GapmapError
from geo.stats import weights as weights_module
from geo.views.extent_weights import for_extent
from geo.stats.bivariate_classes import bivariate_classes
from geo.stats.bivariate_moran import bivariate_moran
from geo.stats.classify import classify
from geo.rates.confidence_intervals import crude_rate
from geo.store.datasets import DatasetError, DatasetStore, rates
from geo.stats.getis_ord import getis_ord
from geo.rates.inequality import gap_and_ratio, gapmap_sii
from geo.stats.local_moran import local_moran
from geo.stats.moran import moran
from geo.rates.standardised_rates import dsr
from geo.store.folder import Store

RATE_PER = 1_000
EXTENT_LEVELS = ("england", "icb", "lad", "ward")
GROUPINGS = {
    "imd_quintile": "national IMD 2025 quintile", "imd_decile": "national IMD 2025 decile",
    "imd_quintile_in_icb": "IMD 2025 quintile within the ICB", "imd_decile_in_icb": "IMD 2025 decile within the ICB",
    "imd_quintile_in_lad": "IMD 2025 quintile within the place", "imd_decile_in_lad": "IMD 2025 decile within the place",
    "ward24cd": "ward", "lad24cd": "local authority", "ethnic_group": "ethnic group",
}


class AnalysisError(GapmapError, ValueError):
    """An indicator, extent or option that cannot be analysed, in words for the user."""


@dataclass
class Extent:
    level: str = "england"
    code: str | None = None

    def filters(self) -> dict:
        if self.level not in EXTENT_LEVELS:
            raise AnalysisError(f"unknown extent {self.level!r}; choose england, icb, lad or ward")
        if self.level != "england" and not self.code:
            raise AnalysisError(f"a {self.level} extent needs a code")
        return {} if self.level == "england" else {self.level: self.code}


def numeric_columns(store: Store) -> list[str]:
    types = store.column_types("lsoas")
    return [name for name, kind in types.items() if kind in ("double", "float", "int64", "int32") and name != "bbox"]


def indicator_values(store: Store, indicator: str, extent: Extent, geometry: bool = False) -> pd.DataFrame:
    """LSOAs of the extent (sorted by code) with ``value`` and, for datasets, ``count``,
    ``population``, ``lower`` and ``upper`` (95% limits of the crude rate per 1,000)."""
    base = ["lsoa21cd", "lsoa21nm", "ward24cd", "ward24nm", "lad24cd", "lad24nm", "imd_score", "imd_decile",
            "imd_quintile", "imd_decile_in_icb", "imd_quintile_in_icb", "imd_decile_in_lad", "imd_quintile_in_lad",
            "core20"]
    columns = numeric_columns(store)
    if indicator in columns:
        frame = store.lsoas(columns=list(dict.fromkeys(base + [indicator])), geometry=geometry, **extent.filters())
        frame["value"] = frame[indicator].astype(float)
    else:
        try:
            dataset = DatasetStore(store).get(indicator)
        except DatasetError as exc:
            raise AnalysisError(f"unknown indicator {indicator!r}: not an LSOA column (such as imd_score or "
                                f"acute_morbidity_indicator) nor a dataset ({exc})") from None
        if dataset.kind != "lsoa":
            raise AnalysisError(f"dataset {indicator!r} holds GP practice values, not LSOA counts")
        frame = store.lsoas(columns=base, geometry=geometry, **extent.filters())
        counts = rates(dataset, store, keep=(), **extent.filters()).set_index("lsoa21cd")
        frame["count"] = frame["lsoa21cd"].map(counts["count"]).fillna(0.0)
        frame["population"] = frame["lsoa21cd"].map(counts["population"])
        pop = store.population_by_age(**extent.filters()).set_index("lsoa21cd")["population_mid2020"]
        frame["population"] = frame["population"].fillna(frame["lsoa21cd"].map(pop))
        ok = frame["population"] > 0
        frame["value"] = np.nan
        frame["lower"] = np.nan
        frame["upper"] = np.nan
        if ok.any():
            r = crude_rate(frame.loc[ok, "count"], frame.loc[ok, "population"], RATE_PER)
            frame.loc[ok, "value"], frame.loc[ok, "lower"], frame.loc[ok, "upper"] = r["value"], r["lower"], r["upper"]
    if frame.empty:
        raise AnalysisError(f"no LSOAs in {extent.level} {extent.code}")
    return frame.sort_values("lsoa21cd").reset_index(drop=True)


def extent_weights(store: Store, extent: Extent, kind: str = "queen", k: int = 6, distance_m: float | None = None):
    extent.filters()
    return for_extent(store, extent.level, extent.code, kind, k, distance_m)


def local_statistic(store: Store, indicator: str, extent: Extent, statistic: str = "local-moran",
                    deprivation: str = "imd_score", permutations: int = 999, seed: int = 12345, alpha: float = 0.05,
                    fdr: bool = False, direction: str = "two-sided", inference: str = "analytic",
                    weights_kind: str = "queen", k: int = 6, distance_m: float | None = None) -> pd.DataFrame:
    """Per-LSOA results of one statistic: local-moran, gi-star or bivariate (deprivation x indicator)."""
    frame = indicator_values(store, indicator, extent)
    w = extent_weights(store, extent, weights_kind, k, distance_m)
    if list(w.ids) != frame["lsoa21cd"].tolist():
        raise AnalysisError("weights and values are not over the same LSOAs")
    values = frame["value"].to_numpy(float)
    if statistic == "local-moran":
        out = local_moran(values, w, permutations, seed, alpha, direction, fdr)
    elif statistic == "gi-star":
        out = getis_ord(values, w, inference, permutations, seed, direction)
    elif statistic == "bivariate":
        dep = indicator_values(store, deprivation, extent)["value"].to_numpy(float)
        if deprivation.endswith(("_rank", "_decile", "_quintile")) or "_decile_" in deprivation or "_quintile_" in deprivation:
            dep = -dep  # 1 = most deprived: turn it round so that higher means more deprived
        out = bivariate_moran(dep, values, w, permutations, seed, alpha, direction, fdr)
    else:
        raise AnalysisError(f"unknown statistic {statistic!r}: local-moran, gi-star or bivariate")
    attrs = {**out.attrs, "indicator": indicator, "extent": f"{extent.level} {extent.code or ''}".strip(),
             "weights": weights_module.describe(w)}
    joined = frame.set_index("lsoa21cd")[["lsoa21nm", "ward24nm", "lad24nm"]].join(out)
    joined.attrs.update(attrs)
    return joined


def global_moran(store: Store, indicator: str, extent: Extent, permutations: int = 999, seed: int = 12345,
                 direction: str = "two-sided", weights_kind: str = "queen") -> dict:
    frame = indicator_values(store, indicator, extent)
    return moran(frame["value"].to_numpy(float), extent_weights(store, extent, weights_kind), permutations, seed,
                 direction)


def classes(store: Store, indicator: str, extent: Extent, scheme: str = "quantiles", k: int = 5,
            breaks: list[float] | None = None) -> pd.DataFrame:
    frame = indicator_values(store, indicator, extent)
    c = classify(frame["value"], scheme, k, breaks)
    frame["class"] = c.classes
    frame["class_label"] = c.label_of()
    frame.attrs.update({"scheme": scheme, "breaks": c.breaks, "labels": c.labels, "counts": c.counts})
    return frame


def bivariate(store: Store, indicator: str, extent: Extent, deprivation: str = "imd_score", n: int = 3,
              scheme: str = "pink-blue") -> pd.DataFrame:
    frame = indicator_values(store, indicator, extent)
    dep = indicator_values(store, deprivation, extent)["value"]
    kind = "score"
    for suffix in ("rank", "decile", "quintile"):
        if suffix in deprivation:
            kind = suffix
    b = bivariate_classes(dep.to_numpy(), frame["value"].to_numpy(), n, kind, scheme, index=frame.index)
    frame["deprivation"] = dep.to_numpy()
    frame["bivariate_class"] = b.classes
    frame["bivariate_colour"] = b.colour_of()
    frame.attrs.update({"deprivation_breaks": b.deprivation_breaks, "activity_breaks": b.activity_breaks,
                        "colours": b.colours, "n": n, "scheme": scheme})
    return frame


def by_group(store: Store, dataset_name: str, extent: Extent, grouping: str = "imd_quintile",
             per: int = 100_000, confidence: float = 0.95) -> pd.DataFrame:
    """Rates of a dataset by deprivation quantile, ethnic group, ward or LAD: crude rate with PHE
    limits, and a directly standardised rate (ESP 2013, Dobson) where the data has age bands."""
    if grouping not in GROUPINGS:
        raise AnalysisError(f"unknown grouping {grouping!r}; choose one of {', '.join(GROUPINGS)}")
    dataset = DatasetStore(store).get(dataset_name)
    meta = dataset.meta
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", *[g for g in GROUPINGS if g != "ethnic_group"]],
                        **extent.filters())
    has_age = "age_band" in dataset.counts().columns
    if grouping == "ethnic_group":
        if "ethnic_group" not in dataset.counts().columns:
            raise AnalysisError(f"dataset {dataset_name!r} has no ethnic group breakdown (ingest with --by ethnic_group)")
        counts = rates(dataset, store, keep=("ethnic_group",), **extent.filters())
        counts = counts.rename(columns={"ethnic_group": "group"})
        has_age = False
    else:
        keep = ("age_band",) if has_age else ()
        counts = rates(dataset, store, keep=keep, **extent.filters())
        counts["group"] = counts["lsoa21cd"].map(lsoas.set_index("lsoa21cd")[grouping])
    rows = []
    for group, g in counts.groupby("group", sort=True):
        g = g[g["population"].notna()]
        count, pop = float(g["count"].sum()), float(g["population"].sum())
        if pop <= 0:
            continue
        r = crude_rate([count], [pop], per, confidence)
        row = {"group": group, "count": count, "population": pop, "crude_rate": r["value"][0],
               "crude_lower": r["lower"][0], "crude_upper": r["upper"][0]}
        if has_age:
            bands = g.groupby(["age_lo", "age_hi"], sort=True)[["count", "population", "esp_weight"]].agg(
                {"count": "sum", "population": "sum", "esp_weight": "first"})
            bands = bands[bands["population"] > 0]
            if bands["esp_weight"].notna().all() and len(bands):
                d = dsr(bands["count"], bands["population"], bands["esp_weight"], per, confidence)
                row.update({"dsr": d["value"], "dsr_lower": d["lower"], "dsr_upper": d["upper"]})
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):  # tables of activity pass disclosure control as every export does
        from geo.rates.disclosure import Rule, protect_table

        rule = Rule.from_meta(meta)
        out = protect_table(out, "count", ["crude_rate", "crude_lower", "crude_upper", "dsr", "dsr_lower",
                                           "dsr_upper"], rule)
    out.attrs.update({"dataset": dataset_name, "measure": meta.get("measure"), "grouping": GROUPINGS[grouping],
                      "per": per, "synthetic": meta.get("synthetic", False),
                      "higher_is_worse": meta.get("higher_is_worse", True)})
    if grouping.startswith("imd_quintile") and len(out) == 5 and out["crude_rate"].notna().all():
        value = "dsr" if "dsr" in out and out["dsr"].notna().all() else "crude_rate"
        lower, upper = ("dsr_lower", "dsr_upper") if value == "dsr" else ("crude_lower", "crude_upper")
        s = gapmap_sii(out["population"], out[value], meta.get("higher_is_worse", True), value_type=1,
                       lower_cl=out[lower], upper_cl=out[upper], repetitions=10_000)
        out.attrs["sii"] = {k: v for k, v in s.items() if not k.startswith("intercept")}
        out.attrs["gap"] = gap_and_ratio(out.set_index("group")[value], meta.get("higher_is_worse", True))
    return out

"""One entry point for the statistics on an extent: what the app, the exports and ``gapmap
analyse`` call.

An *indicator* is either a numeric column of the LSOA table (IMD 2025 and domain scores, the
IoD2025 underlying indicators such as ``acute_morbidity_indicator``) or an ingested dataset,
whose LSOA value is what its definition says (:mod:`geo.sources.indicator_definitions`): a crude
rate per year over the residents of the definition's ages (per 100,000 by default), or a
percentage of the denominator the data supplies. An *extent* is England, an ICB, a LAD or a ward.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import GapmapError
from geo.views.extent_weights import for_extent
from geo.stats import weights as weights_module
from geo.stats.bivariate_classes import SCHEMES as BIVARIATE_SCHEMES, bivariate_classes
from geo.stats.bivariate_moran import bivariate_moran
from geo.stats.classify import classify
from geo.rates.confidence_intervals import crude_rate, proportion
from geo.sources.indicator_definitions import IndicatorDefinition, definition_of, latest_period, years_of_data
from geo.store.datasets import DatasetError, DatasetStore, rates
from geo.stats.getis_ord import getis_ord
from geo.stats.local_moran import local_moran
from geo.stats.moran import moran
from geo.stats.permutation import DEFAULT_DIRECTION
from geo.store.folder import Store

RATE_PER = 100_000  # the default definition's multiplier (a dataset's own definition says its own)
EXTENT_LEVELS = ("england", "icb", "lad", "ward")
GROUPINGS = {
    "imd_quintile": "national IMD 2025 quintile", "imd_decile": "national IMD 2025 decile",
    "imd_quintile_in_icb": "IMD 2025 quintile within the ICB", "imd_decile_in_icb": "IMD 2025 decile within the ICB",
    "imd_quintile_in_lad": "IMD 2025 quintile within the place", "imd_decile_in_lad": "IMD 2025 decile within the place",
    "ward24cd": "ward", "lad24cd": "local authority", "ethnic_group": "ethnic group",
}


EVENTS_NOTE = ("Confidence limits treat events as independent (Poisson). Where one person can be counted "
               "more than once (repeat attenders, readmissions), the limits are too narrow: PHE's method for "
               "non-independent events (PHEindicatormethods calculate_dsr with independent_events = FALSE) "
               "needs how many people had 1, 2, 3... events, which a count of events does not hold.")


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


def _lsoa_values(frame: pd.DataFrame, definition: IndicatorDefinition) -> pd.DataFrame:
    """``value``, ``lower``, ``upper`` of each LSOA from its ``count`` and ``person_years`` (rates:
    per the multiplier per year, PHE's Poisson limits) or ``population`` (proportions: %, Wilson)."""
    frame[["value", "lower", "upper"]] = np.nan
    base = "population" if definition.measure_type == "proportion" else "person_years"
    count = frame["count"].to_numpy(float)
    base_values = pd.to_numeric(frame[base], errors="coerce").to_numpy(float)
    ok = (np.nan_to_num(base_values) > 0) & np.isfinite(count)
    if definition.measure_type == "proportion":
        ok &= count <= np.nan_to_num(pd.to_numeric(frame["population"], errors="coerce").to_numpy(float))
    if ok.any():
        compute = proportion if definition.measure_type == "proportion" else crude_rate
        r = compute(count[ok], base_values[ok], definition.multiplier)
        frame.loc[ok, "value"], frame.loc[ok, "lower"], frame.loc[ok, "upper"] = r["value"], r["lower"], r["upper"]
    return frame


def dataset_definition(dataset) -> tuple[IndicatorDefinition, float, bool]:
    """A dataset's definition, the years its data covers and whether it supplies its denominator."""
    counts = dataset.counts()
    definition = definition_of(dataset.meta, "age_band" in counts.columns)
    years, _ = years_of_data(dataset.meta, counts, definition)
    return definition, years, "denominator" in counts.columns


def publish_counts(frame: pd.DataFrame, rule, definition: IndicatorDefinition | None = None, years: float = 1.0,
                   supplied: bool = False) -> pd.DataFrame:
    """A dataset's LSOA rows as they may be published (:mod:`geo.rates.disclosure`): counts
    suppressed or rounded by ``rule`` (a supplied denominator too), ``suppressed`` flagging the
    hidden ones, and the value and its limits computed from the published count (none where it is
    hidden), so that value x population gives back only the published count."""
    from geo.rates.disclosure import protect_counts, suppressed

    definition = definition or IndicatorDefinition()
    frame = frame.copy()
    raw = frame["count"].to_numpy(dtype=float)
    hide = suppressed(raw, rule)
    published = protect_counts(raw, rule)
    if supplied:
        den = frame["population"].to_numpy(float)
        hide |= suppressed(den, rule)
        frame["population"] = protect_counts(den, rule)
        frame["person_years"] = frame["population"] * years
        published = np.where(hide, np.nan, np.minimum(published, frame["population"].to_numpy(float)))
    frame["count"] = np.where(hide, np.nan, published)
    frame["suppressed"] = hide
    return _lsoa_values(frame, definition)


def indicator_values(store: Store, indicator: str, extent: Extent, geometry: bool = False,
                     dataset=None, published: bool = False) -> pd.DataFrame:
    """LSOAs of the extent (sorted by code) with ``value`` and, for datasets, ``count``,
    ``population``, ``lower`` and ``upper`` (95% limits of the crude rate per 1,000).
    ``dataset``: the dataset already read (one version per request, see :mod:`geo.views.map_table`).
    ``published``: a dataset's counts and rates as they may be published (:func:`publish_counts`
    with the dataset's own rule), for anything whose output leaves Gapmap."""
    base = ["lsoa21cd", "lsoa21nm", "ward24cd", "ward24nm", "lad24cd", "lad24nm", "imd_score", "imd_decile",
            "imd_quintile", "imd_decile_in_icb", "imd_quintile_in_icb", "imd_decile_in_lad", "imd_quintile_in_lad",
            "core20"]
    columns = numeric_columns(store)
    if indicator in columns:
        frame = store.lsoas(columns=list(dict.fromkeys(base + [indicator])), geometry=geometry, **extent.filters())
        frame["value"] = frame[indicator].astype(float)
    else:
        try:
            dataset = dataset or DatasetStore(store).get(indicator)
        except DatasetError as exc:
            raise AnalysisError(f"unknown indicator {indicator!r}: not an LSOA column (such as imd_score or "
                                f"acute_morbidity_indicator) nor a dataset ({exc})") from None
        if dataset.kind != "lsoa":
            raise AnalysisError(f"dataset {indicator!r} holds GP practice values, not LSOA counts")
        frame = store.lsoas(columns=base, geometry=geometry, **extent.filters())
        definition, years, supplied = dataset_definition(dataset)
        ages_cut = "age_band" in dataset.counts().columns and not definition.all_ages and not supplied
        latest = latest_period(definition, dataset.counts())  # a snapshot: its latest period, not pooled
        keep = (("age_band",) if ages_cut else ()) + (("period",) if latest else ())
        # an age-cut indicator: only the events of the age bands that reach into the definition's ages
        ages = (definition.age_lo, definition.age_hi if definition.age_hi is not None else 200) if ages_cut else None
        counts = rates(dataset, store, keep=keep, ages=ages, **extent.filters())
        if latest:
            counts = counts[counts["period"].astype(str) == latest]
        counts = counts.groupby("lsoa21cd")[["count", "population"]].sum(min_count=1)
        frame["count"] = frame["lsoa21cd"].map(counts["count"]).fillna(0.0)
        if supplied:
            frame["population"] = frame["lsoa21cd"].map(counts["population"])
        else:  # residents of the definition's ages (ONS single years), whoever had events
            pop = store.population_by_age(**extent.filters()).set_index("lsoa21cd")
            top = definition.age_hi if definition.age_hi is not None else 90
            ages = [c for c in pop.columns if c.startswith("age_")]  # age_0 .. age_89, age_90_plus
            single = ages[definition.age_lo:min(top, 90) + 1]
            frame["population"] = frame["lsoa21cd"].map(pop[single].astype(float).sum(axis=1))
        frame["person_years"] = frame["population"] * (years if definition.measure_type == "rate" else 1.0)
        frame = _lsoa_values(frame, definition)
        if published:
            from geo.rates.disclosure import Rule

            frame = publish_counts(frame, Rule.from_meta(dataset.meta), definition, years, supplied)
    if frame.empty:
        raise AnalysisError(f"no LSOAs in {extent.level} {extent.code}")
    return frame.sort_values("lsoa21cd").reset_index(drop=True)


def extent_weights(store: Store, extent: Extent, kind: str = "queen", k: int = 6, distance_m: float | None = None):
    extent.filters()
    return for_extent(store, extent.level, extent.code, kind, k, distance_m)


STATISTICS = ("local-moran", "gi-star", "bivariate", "moran", "classes", "bivariate-classes", "by-group")
_SPATIAL = {"local-moran", "gi-star", "bivariate", "moran"}
APPLIES_TO = {  # option -> the statistics it changes; any other statistic refuses it
    "deprivation": {"bivariate", "bivariate-classes"},
    "grouping": {"by-group"},
    "permutations": _SPATIAL,
    "seed": _SPATIAL,
    "alpha": {"local-moran", "gi-star", "bivariate"},
    "fdr": {"local-moran", "gi-star", "bivariate"},
    "direction": _SPATIAL,
    "inference": {"gi-star"},
    "weights_kind": _SPATIAL,
    "k": _SPATIAL,
    "distance_m": _SPATIAL,
    "scheme": {"classes", "bivariate-classes"},
    "n_classes": {"classes", "bivariate-classes"},
}
OPTION_NAMES = {"weights_kind": "--weights", "distance_m": "--distance", "n_classes": "--classes",
                "grouping": "--group"}


@dataclass(frozen=True)
class AnalysisOptions:
    """Every option of ``gapmap analyse`` in one object (the CLI builds one; so can the app).

    ``alpha`` None means the statistic's own default: 0.05 for local Moran and bivariate
    clusters, and for Gi* the three confidence levels (90, 95, 99%). ``scheme`` and
    ``n_classes`` None mean quantiles / 5 classes for ``classes`` and pink-blue / 3 for
    ``bivariate-classes``. ``direction`` is the p-value convention (folded, as GeoDa and esda,
    by default).
    """
    deprivation: str = "imd_score"
    grouping: str = "imd_quintile"
    permutations: int = 999
    seed: int = 12345
    alpha: float | None = None
    fdr: bool = False
    direction: str = DEFAULT_DIRECTION
    inference: str = "analytic"
    weights_kind: str = "queen"
    k: int = 6
    distance_m: float | None = None
    scheme: str | None = None
    n_classes: int | None = None

    def check(self, statistic: str, given: set[str] | frozenset = frozenset()) -> "AnalysisOptions":
        """Refuse, with a message, every option the user ``given`` that ``statistic`` would not use."""
        if statistic not in STATISTICS:
            raise AnalysisError(f"unknown statistic {statistic!r}; choose one of {', '.join(STATISTICS)}")
        problems = []
        for option in sorted(given):
            flag = OPTION_NAMES.get(option, "--" + option.replace("_", "-"))
            if option in APPLIES_TO and statistic not in APPLIES_TO[option]:
                uses = ", ".join(sorted(APPLIES_TO[option]))
                problems.append(f"{flag} does not apply to --stat {statistic} (it applies to {uses})")
        if "k" in given and statistic in _SPATIAL and self.weights_kind != "knn":
            problems.append("--k applies only with --weights knn")
        if "distance_m" in given and statistic in _SPATIAL and self.weights_kind != "distance":
            problems.append("--distance applies only with --weights distance")
        if statistic == "bivariate-classes" and self.n_classes not in (None, 3, 4):
            problems.append(f"--classes {self.n_classes}: bivariate classes are 3 x 3 or 4 x 4 (--classes 3 or 4)")
        if statistic == "bivariate-classes" and self.scheme is not None and self.scheme not in BIVARIATE_SCHEMES:
            problems.append(f"--scheme {self.scheme}: bivariate colours are {', '.join(BIVARIATE_SCHEMES)}")
        if problems:
            raise AnalysisError("; ".join(problems))
        return self

    def alpha_for(self, statistic: str) -> float | None:
        if self.alpha is not None or statistic == "gi-star":
            return self.alpha
        return 0.05


def local_statistic(store: Store, indicator: str, extent: Extent, statistic: str = "local-moran",
                    deprivation: str = "imd_score", permutations: int = 999, seed: int = 12345,
                    alpha: float | None = None, fdr: bool = False, direction: str = DEFAULT_DIRECTION,
                    inference: str = "analytic", weights_kind: str = "queen", k: int = 6,
                    distance_m: float | None = None, options: AnalysisOptions | None = None,
                    published: bool = False) -> pd.DataFrame:
    """Per-LSOA results of one statistic: local-moran, gi-star or bivariate (deprivation x indicator).

    Pass either the keyword arguments or ``options`` (an :class:`AnalysisOptions`, which wins).
    ``published``: on a dataset's published counts (see :func:`indicator_values`).
    ``attrs["method"]`` says the test used, ``attrs["p_value_convention"]`` its convention."""
    if options is None:
        options = AnalysisOptions(deprivation=deprivation, permutations=permutations, seed=seed, alpha=alpha, fdr=fdr,
                                  direction=direction, inference=inference, weights_kind=weights_kind, k=k,
                                  distance_m=distance_m)
    o = options
    if statistic not in ("local-moran", "gi-star", "bivariate"):
        raise AnalysisError(f"unknown statistic {statistic!r}: local-moran, gi-star or bivariate")
    frame = indicator_values(store, indicator, extent, published=published)
    w = extent_weights(store, extent, o.weights_kind, o.k, o.distance_m)
    if list(w.ids) != frame["lsoa21cd"].tolist():
        raise AnalysisError("weights and values are not over the same LSOAs")
    values = frame["value"].to_numpy(float)
    alpha = o.alpha_for(statistic)
    if statistic == "local-moran":
        out = local_moran(values, w, o.permutations, o.seed, alpha, o.direction, o.fdr)
    elif statistic == "gi-star":
        out = getis_ord(values, w, o.inference, o.permutations, o.seed, o.direction, alpha, o.fdr)
    else:
        dep = indicator_values(store, o.deprivation, extent)["value"].to_numpy(float)
        name = o.deprivation
        if name.endswith(("_rank", "_decile", "_quintile")) or "_decile_" in name or "_quintile_" in name:
            dep = -dep  # 1 = most deprived: turn it round so that higher means more deprived
        out = bivariate_moran(dep, values, w, o.permutations, o.seed, alpha, o.direction, o.fdr)
    attrs = {**out.attrs, "indicator": indicator, "extent": f"{extent.level} {extent.code or ''}".strip(),
             "weights": weights_module.describe(w), "synthetic": is_synthetic(store, indicator)}
    joined = frame.set_index("lsoa21cd")[["lsoa21nm", "ward24nm", "lad24nm"]].join(out)
    joined.attrs.update(attrs)
    return joined


def is_synthetic(store: Store, indicator: str) -> bool:
    """True when ``indicator`` is a dataset labelled synthetic (made-up records)."""
    datasets = DatasetStore(store)
    return indicator in datasets.names() and bool(datasets.get(indicator).meta.get("synthetic"))


def global_moran(store: Store, indicator: str, extent: Extent, permutations: int = 999, seed: int = 12345,
                 direction: str = DEFAULT_DIRECTION, weights_kind: str = "queen", k: int = 6,
                 distance_m: float | None = None, published: bool = False) -> dict:
    frame = indicator_values(store, indicator, extent, published=published)
    return moran(frame["value"].to_numpy(float), extent_weights(store, extent, weights_kind, k, distance_m),
                 permutations, seed, direction)


def analyse(store: Store, indicator: str, extent: Extent, statistic: str, options: AnalysisOptions = AnalysisOptions(),
            given: set[str] | frozenset = frozenset()):
    """What ``gapmap analyse`` runs: the statistic with its options, after refusing the options
    given that it would not use. Returns a dict for ``moran``, else a table."""
    o = options.check(statistic, given)
    # what it prints is published: a dataset's counts pass disclosure control before anything is derived
    if statistic == "moran":
        return global_moran(store, indicator, extent, o.permutations, o.seed, o.direction, o.weights_kind, o.k,
                            o.distance_m, published=True)
    if statistic in ("local-moran", "gi-star", "bivariate"):
        return local_statistic(store, indicator, extent, statistic, options=o, published=True)
    if statistic == "classes":
        return classes(store, indicator, extent, o.scheme or "quantiles", o.n_classes or 5, published=True)
    if statistic == "bivariate-classes":
        return bivariate(store, indicator, extent, o.deprivation, o.n_classes or 3, o.scheme or "pink-blue",
                         published=True)
    raise AnalysisError("by-group tables are published from disclosure-controlled cells: use "
                        "geo.views.map_table.group_table (what `gapmap analyse --stat by-group` prints)")


def classes(store: Store, indicator: str, extent: Extent, scheme: str = "quantiles", k: int = 5,
            breaks: list[float] | None = None, published: bool = False) -> pd.DataFrame:
    frame = indicator_values(store, indicator, extent, published=published)
    c = classify(frame["value"], scheme, k, breaks)
    frame["class"] = c.classes
    frame["class_label"] = c.label_of()
    frame.attrs.update({"scheme": scheme, "breaks": c.breaks, "labels": c.labels, "counts": c.counts})
    return frame


def bivariate(store: Store, indicator: str, extent: Extent, deprivation: str = "imd_score", n: int = 3,
              scheme: str = "pink-blue", published: bool = False) -> pd.DataFrame:
    frame = indicator_values(store, indicator, extent, published=published)
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
                        "deprivation_labels": b.deprivation_labels, "activity_labels": b.activity_labels,
                        "deprivation_values": b.deprivation_values, "colours": b.colours, "n": n, "scheme": scheme,
                        "synthetic": is_synthetic(store, indicator)})
    return frame

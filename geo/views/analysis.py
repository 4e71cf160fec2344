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
from geo.views.extent_weights import for_extent
from geo.stats import weights as weights_module
from geo.stats.bivariate_classes import SCHEMES as BIVARIATE_SCHEMES, bivariate_classes
from geo.stats.bivariate_moran import bivariate_moran
from geo.stats.classify import classify
from geo.rates.confidence_intervals import crude_rate
from geo.store.datasets import DatasetError, DatasetStore, rates
from geo.stats.getis_ord import getis_ord
from geo.rates.inequality import gap_and_ratio, gapmap_sii
from geo.stats.local_moran import local_moran
from geo.stats.moran import moran
from geo.stats.permutation import DEFAULT_DIRECTION
from geo.rates.standardised_rates import dsr_many
from geo.store.folder import Store

RATE_PER = 1_000
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


def publish_counts(frame: pd.DataFrame, rule) -> pd.DataFrame:
    """A dataset's LSOA rows as they may be published (:mod:`geo.rates.disclosure`): counts
    suppressed or rounded by ``rule``, ``suppressed`` flagging the hidden ones, and the rate and its
    limits computed from the published count (none where it is hidden), so that rate x population
    gives back only the published count."""
    from geo.rates.disclosure import protect_counts, suppressed

    frame = frame.copy()
    raw = frame["count"].to_numpy(dtype=float)
    hide = suppressed(raw, rule)
    published = protect_counts(raw, rule)
    frame["count"] = published
    frame["suppressed"] = hide
    frame[["value", "lower", "upper"]] = np.nan
    ok = (frame["population"] > 0).to_numpy() & ~hide & np.isfinite(published)
    if ok.any():
        r = crude_rate(published[ok], frame.loc[ok, "population"].to_numpy(float), RATE_PER)
        frame.loc[ok, "value"], frame.loc[ok, "lower"], frame.loc[ok, "upper"] = r["value"], r["lower"], r["upper"]
    return frame


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
        if published:
            from geo.rates.disclosure import Rule

            frame = publish_counts(frame, Rule.from_meta(dataset.meta))
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
    return by_group(store, indicator, extent, o.grouping)


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


def by_group(store: Store, dataset_name: str, extent: Extent, grouping: str = "imd_quintile",
             per: int = 100_000, confidence: float = 0.95) -> pd.DataFrame:
    """Rates of a dataset by deprivation quantile, ethnic group, ward or LAD.

    For each group: ``count`` (events), ``population`` (the WHOLE population of the group within
    the extent: every LSOA of the group, every age band, whether or not it had events; see
    :func:`geo.store.datasets.rates`), the crude rate per ``per`` with PHE's Poisson limits
    (``crude_rate``, ``crude_lower``, ``crude_upper``) and, where the data has age bands on the
    ESP 2013 boundaries, the directly standardised rate (``dsr``, ``dsr_lower``, ``dsr_upper``:
    ESP 2013 over the 19 bands, Dobson limits, none from fewer than 10 events). An age band with
    no residents in a group (possible in a small ward) has no rate and is left out of that group's
    DSR, whose weights are then those of the bands that remain (``dsr_note`` says so). Events of a
    group with no known population (unknown ethnicity) have no rate: their count is in
    ``attrs["events_without_denominator"]`` (after disclosure control), not in the table.

    Events are counted as independent (Poisson): where one person can be counted many times
    (repeat attenders), the limits are too narrow; see ``attrs["events_note"]``.
    """
    if grouping not in GROUPINGS:
        raise AnalysisError(f"unknown grouping {grouping!r}; choose one of {', '.join(GROUPINGS)}")
    try:
        dataset = DatasetStore(store).get(dataset_name)
    except DatasetError as exc:
        raise AnalysisError(f"by-group needs an ingested dataset as INDICATOR: {exc}") from None
    meta = dataset.meta
    if dataset.kind != "lsoa":
        raise AnalysisError(f"dataset {dataset_name!r} holds GP practice values, not LSOA counts")
    columns = dataset.counts().columns
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", *[g for g in GROUPINGS if g != "ethnic_group"]],
                        **extent.filters())
    has_age = "age_band" in columns
    if grouping == "ethnic_group":
        if "ethnic_group" not in columns:
            raise AnalysisError(f"dataset {dataset_name!r} has no ethnic group breakdown (ingest with --by ethnic_group)")
        counts = rates(dataset, store, keep=("ethnic_group",), **extent.filters())
        counts = counts.rename(columns={"ethnic_group": "group"})
        has_age = False  # no population by ethnic group and age band
    else:
        keep = ("age_band",) if has_age else ()
        counts = rates(dataset, store, keep=keep, **extent.filters())
        counts["group"] = counts["lsoa21cd"].map(lsoas.set_index("lsoa21cd")[grouping])
    counts = counts[counts["group"].notna()]
    known = counts[counts["population"].notna()]
    totals = counts.groupby("group", sort=True)["count"].sum()
    sums = known.groupby("group", sort=True)[["count", "population"]].sum().reindex(totals.index)
    with_rate = sums["population"].fillna(0) > 0
    no_denominator = {str(g): float(c) for g, c in totals[~with_rate & (totals > 0)].items()}
    sums = sums[with_rate]
    out = pd.DataFrame({"group": sums.index, "count": sums["count"].to_numpy(float),
                        "population": sums["population"].to_numpy(float)})
    if len(out):
        r = crude_rate(out["count"], out["population"], per, confidence)
        out["crude_rate"], out["crude_lower"], out["crude_upper"] = r["value"], r["lower"], r["upper"]
    if has_age and len(out):
        bands = known.groupby(["group", "age_lo", "age_hi"], sort=True).agg(
            count=("count", "sum"), population=("population", "sum"), esp_weight=("esp_weight", "first"))
        weights = bands.reset_index().drop_duplicates(["age_lo", "age_hi"]).set_index(["age_lo", "age_hi"])[
            "esp_weight"].sort_index()
        if weights.notna().all() and len(weights):
            x = bands["count"].unstack(["age_lo", "age_hi"]).reindex(index=out["group"], columns=weights.index)
            n = bands["population"].unstack(["age_lo", "age_hi"]).reindex(index=out["group"], columns=weights.index)
            d = dsr_many(x.to_numpy(float), n.to_numpy(float), weights.to_numpy(float), per, confidence)
            out["dsr"], out["dsr_lower"], out["dsr_upper"] = d["value"], d["lower"], d["upper"]
            left_out = d["bands_left_out"]
            if (left_out > 0).any():
                out["dsr_note"] = [f"{k} age band(s) with no residents left out of the standard population" if k
                                   else None for k in left_out]
    if len(out):  # tables of activity pass disclosure control as every export does
        from geo.rates.disclosure import Rule, protect_table

        rule = Rule.from_meta(meta)
        out = protect_table(out, "count", [c for c in ("crude_rate", "crude_lower", "crude_upper", "dsr",
                                                        "dsr_lower", "dsr_upper") if c in out], rule)
    if no_denominator:
        from geo.rates.disclosure import Rule, protect_counts

        shown = protect_counts(np.array(list(no_denominator.values())), Rule.from_meta(meta))
        out.attrs["events_without_denominator"] = {
            g: (None if np.isnan(c) else float(c)) for g, c in zip(no_denominator, shown)}
    out.attrs.update({"dataset": dataset_name, "measure": meta.get("measure"), "grouping": GROUPINGS[grouping],
                      "per": per, "synthetic": meta.get("synthetic", False),
                      "higher_is_worse": meta.get("higher_is_worse", True),
                      "denominator": "the whole population of each group within the extent "
                                     f"({counts['population_source'].iloc[0] if len(counts) else 'none'})",
                      "events_note": EVENTS_NOTE})
    if grouping.startswith("imd_quintile") and len(out) == 5 and out["crude_rate"].notna().all():
        value = "dsr" if "dsr" in out and out["dsr"].notna().all() else "crude_rate"
        lower, upper = ("dsr_lower", "dsr_upper") if value == "dsr" else ("crude_lower", "crude_upper")
        # PHE simulate rates on the log scale, which needs every lower limit above 0; a quintile with
        # no events (sparse data) has a lower limit of 0, so its limits are then taken as normal
        log_scale = bool((out[lower] > 0).all())
        s = gapmap_sii(out["population"], out[value], meta.get("higher_is_worse", True),
                       value_type=1 if log_scale else 0, lower_cl=out[lower], upper_cl=out[upper], repetitions=10_000)
        out.attrs["sii"] = {k: v for k, v in s.items() if not k.startswith("intercept")}
        out.attrs["sii"]["of"] = value
        out.attrs["sii"]["simulation"] = ("rates simulated on the log scale (PHE)" if log_scale else
                                          "a quintile has a lower limit of 0, so rates were simulated on their "
                                          "own scale (normal) from their 95% limits")
        out.attrs["gap"] = gap_and_ratio(out.set_index("group")[value], meta.get("higher_is_worse", True))
    return out

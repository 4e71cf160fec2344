"""The statement on information on health inequalities, computed for an extent (usually an ICB).

NHS England asks every ICB to publish, for each of the indicators in
:mod:`geo.sources.nhs_indicators` (ELR01 ... MAT01), the indicator segmented by deprivation and
ethnicity, and by age and sex where available. This module computes every number the statement
shows, from the datasets attached to each indicator (``gapmap ingest ... --nhs-indicator CODE``),
always through :func:`geo.views.analysis.by_group` (rates by group, disclosure control, SII) and
:func:`geo.store.datasets.rates` (counts with their denominators), so that the statement's numbers are
the by-group analysis's numbers. Its outputs, per indicator (a :class:`Section`):

``quintiles`` / ``quintiles_local``
    by_group by national IMD 2025 quintile, and by quintile within the extent: count (after
    disclosure control), population, crude rate per 100,000 with PHE's 95% limits (Byar, exact
    under 10), DSR (ESP 2013, Dobson) where the data has age bands, and ``compared``: how the
    group's rate stands against the extent's own rate (see *Significance*).
``sii``, ``gap``
    slope and relative index of inequality with 95% limits (PHE's method, by_group's), and the
    quintile 1 against quintile 5 gap (1 minus 5) and ratio (1 over 5), of the DSR where every
    quintile has one, else of the crude rate.
``ethnic``, ``age``, ``sex``
    rates by ethnic group (crude: no population by ethnic group and age exists) and by age band
    (crude, each band's own population), each compared with the extent's crude rate; sex has no
    LSOA population, so only its counts and share of events (Wilson limits) are given.
``shares``
    for indicators defined as shares (DIA01, MEN05, LDA01): each group's share of the activity
    (from counts after disclosure control, Wilson 95% limits) against its share of the population.
``trend``
    by_group by national quintile for each period in the data, with the SII per period, and the
    change of the SII from the first to the last period tested with a two-sided z-test on the
    difference, standard errors taken from each SII's 95% limits (``(upper - lower) / 3.92``).
``funnel``
    wards and places against the extent's crude rate with PHE's funnel limits (95% and 99.8%,
    :mod:`geo.rates.funnel`); each area's significance is PHE's: the baseline outside the area's own 95%
    or 99.8% limits (by_group's, at those levels).
``findings``
    plain-English sentences generated from these numbers, each with the figure and interval it
    rests on and the test behind it; "significantly" appears only where a test says so.

*Significance* against the extent: a group is "significantly higher" when the lower 95% limit of
its rate is above the extent's rate, "significantly lower" when the upper limit is below it, as
PHE's Fingertips compares an area with a benchmark value; otherwise "similar". Groups whose counts
are suppressed by disclosure control have no rate and no comparison.
"""
from __future__ import annotations

import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from geo.views import analysis
from geo.rates import funnel
from geo.views.analysis import AnalysisError, Extent
from geo.rates.confidence_intervals import crude_rate, proportion
from geo.store.datasets import DatasetStore, rates
from geo.rates.disclosure import Rule, protect_counts, protect_table
from geo.sources.nhs_indicators import catalogue
from geo.rates.standardised_rates import dsr
from geo.store.folder import Store
from geo.views.indicator_datasets import attached

PER = 100_000
SHARE_INDICATORS = {"DIA01", "MEN05", "LDA01"}
QUINTILE_NAMES = {1: "1 (most deprived)", 2: "2", 3: "3", 4: "4", 5: "5 (least deprived)"}
COMPARISON_METHOD = ("A group is significantly higher (lower) than the ICB as a whole when the lower (upper) "
                     "limit of its 95% confidence interval is above (below) the ICB's own rate, as PHE's "
                     "Fingertips compares an area with a benchmark.")
TREND_METHOD = ("Change in the gap: the slope index of inequality (SII) of the last period minus that of the "
                "first, tested with a two-sided z-test, each SII's standard error taken from its 95% limits "
                "((upper - lower) / 3.92); significant when p < 0.05.")
HOW_TO_ATTACH = ("gapmap ingest FILE --name NAME --nhs-indicator {code} --by age_band,sex,ethnic_group,period "
                 "(or upload it on the /upload page with the indicator chosen)")


@dataclass
class Section:
    """Everything the statement shows for one NHS indicator."""
    code: str
    domain: str
    wording: str
    datasets: list[str] = field(default_factory=list)
    dataset: str | None = None
    measure: str | None = None
    synthetic: bool = False
    per: int = PER
    higher_is_worse: bool = True
    total: dict = field(default_factory=dict)
    quintiles: pd.DataFrame | None = None
    quintiles_local: pd.DataFrame | None = None
    sii: dict | None = None
    sii_local: dict | None = None
    gap: dict | None = None
    ethnic: pd.DataFrame | None = None
    ethnic_total: dict = field(default_factory=dict)
    age: pd.DataFrame | None = None
    sex: pd.DataFrame | None = None
    shares: pd.DataFrame | None = None
    trend: pd.DataFrame | None = None
    trend_sii: pd.DataFrame | None = None
    trend_test: dict | None = None
    funnel_points: pd.DataFrame | None = None
    funnel_limits: pd.DataFrame | None = None
    maps: dict = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rate_column: str = "crude_rate"
    disclosure: str = ""

    @property
    def has_data(self) -> bool:
        return self.dataset is not None

    @property
    def how_to_attach(self) -> str:
        return HOW_TO_ATTACH.format(code=self.code)

    @property
    def slug(self) -> str:
        return self.code.lower()


@dataclass
class Statement:
    extent: Extent
    place: str
    sections: list[Section]
    created: str
    targets: pd.DataFrame | None = None
    targets_groups: list[str] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return any(s.synthetic for s in self.sections)

    @property
    def with_data(self) -> list[Section]:
        return [s for s in self.sections if s.has_data]

    @property
    def without_data(self) -> list[Section]:
        return [s for s in self.sections if not s.has_data]


# ---- helpers ---------------------------------------------------------------------------------

class ReadOnceStore(Store):
    """The same store, keeping what it has read for the length of one statement: the statement asks
    by_group for many tables of the same extent, and each would read the population again."""

    def __init__(self, root, memo: dict | None = None):
        super().__init__(root)
        self._memo = {} if memo is None else memo

    def _kept(self, key, read):
        key = (str(self.path), *key)
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key].copy()

    def lsoas(self, icb=None, lad=None, ward=None, columns=None, geometry=True):
        if geometry:
            return super().lsoas(icb=icb, lad=lad, ward=ward, columns=columns, geometry=geometry)
        return self._kept(("lsoas", icb, lad, ward, tuple(columns) if columns else None),
                          lambda: super(ReadOnceStore, self).lsoas(icb=icb, lad=lad, ward=ward, columns=columns,
                                                                   geometry=False))

    def population_by_age(self, icb=None, lad=None, ward=None):
        return self._kept(("population", icb, lad, ward),
                          lambda: super(ReadOnceStore, self).population_by_age(icb=icb, lad=lad, ward=ward))


@contextmanager
def overlay(store: Store):
    """A throwaway store that reads ``store``'s build but keeps its own datasets: the statement puts
    subsets of a dataset (one period) there, to run :func:`geo.views.analysis.by_group` on them unchanged."""
    with tempfile.TemporaryDirectory(prefix="gapmap-statement-") as tmp:
        os.symlink(store.path, Path(tmp) / "current")
        yield ReadOnceStore(tmp, getattr(store, "_memo", None))


def compare(lower, upper, benchmark) -> str | None:
    """'higher', 'lower' or 'similar' against the benchmark; None where the interval is missing."""
    if lower is None or upper is None or benchmark is None:
        return None
    if any(isinstance(v, float) and math.isnan(v) for v in (lower, upper, benchmark)):
        return None
    if lower > benchmark:
        return "higher"
    if upper < benchmark:
        return "lower"
    return "similar"


def value_columns(table: pd.DataFrame) -> tuple[str, str, str]:
    """The rate by_group's SII uses: the DSR where every row has one, else the crude rate."""
    if "dsr" in table and len(table) and table["dsr"].notna().all():
        return "dsr", "dsr_lower", "dsr_upper"
    return "crude_rate", "crude_lower", "crude_upper"


def extent_total(store: Store, dataset_name: str, extent: Extent, per: int = PER) -> dict:
    """The extent as a whole, computed as :func:`geo.views.analysis.by_group` computes one group: counts
    and populations from :func:`geo.store.datasets.rates`, PHE's crude rate and the DSR where the data has
    age bands. The count is returned before and after disclosure control (``count_raw`` is used
    only as the funnel's baseline and is never shown)."""
    dataset = DatasetStore(store).get(dataset_name)
    has_age = "age_band" in dataset.counts().columns
    counts = rates(dataset, store, keep=("age_band",) if has_age else (), **extent.filters())
    known = counts[counts["population"].notna()]
    count, pop = float(known["count"].sum()), float(known["population"].sum())
    rule = Rule.from_meta(dataset.meta)
    out = {"count_raw": count, "count": float(protect_counts([count], rule)[0]), "population": pop}
    if pop <= 0:
        return out
    r = crude_rate([count], [pop], per)
    out.update({"crude_rate": r["value"][0], "crude_lower": r["lower"][0], "crude_upper": r["upper"][0]})
    if has_age:
        bands = known.groupby(["age_lo", "age_hi"], sort=True)[["count", "population", "esp_weight"]].agg(
            {"count": "sum", "population": "sum", "esp_weight": "first"})
        bands = bands[bands["population"] > 0]
        if len(bands) and bands["esp_weight"].notna().all():
            d = dsr(bands["count"], bands["population"], bands["esp_weight"], per)
            out.update({"dsr": d["value"], "dsr_lower": d["lower"], "dsr_upper": d["upper"]})
    if np.isnan(out["count"]):  # the whole extent's count is suppressed: no rate either
        for k in ("crude_rate", "crude_lower", "crude_upper", "dsr", "dsr_lower", "dsr_upper"):
            out.pop(k, None)
    return out


def ethnic_total(store: Store, dataset_name: str, extent: Extent, per: int = PER) -> dict:
    """The benchmark for rates by ethnic group: events of a known ethnic group over all residents
    of those groups (the denominators :func:`geo.views.analysis.by_group` uses by ethnic group)."""
    dataset = DatasetStore(store).get(dataset_name)
    counts = rates(dataset, store, keep=("ethnic_group",), **extent.filters())
    known = counts[counts["population"].notna()]
    count, pop = float(known["count"].sum()), float(known.groupby("ethnic_group")["population"].sum().sum())
    out = {"count_raw": count, "population": pop}
    if pop > 0:
        r = crude_rate([count], [pop], per)
        out.update({"crude_rate": r["value"][0], "crude_lower": r["lower"][0], "crude_upper": r["upper"][0]})
    return out


def _with_comparison(table: pd.DataFrame, total: dict, value: str = "crude_rate") -> pd.DataFrame:
    lower, upper = ("dsr_lower", "dsr_upper") if value == "dsr" else ("crude_lower", "crude_upper")
    benchmark = total.get(value)
    table = table.copy()
    table["compared"] = [compare(lo, hi, benchmark) for lo, hi in zip(table.get(lower, []), table.get(upper, []))] \
        if lower in table else None
    table.attrs["compared_with"] = value
    return table


def _group_names(grouping: str, table: pd.DataFrame, store: Store, extent: Extent) -> list[str]:
    if grouping.startswith("imd_quintile"):
        return [QUINTILE_NAMES.get(int(g), str(g)) for g in table["group"]]
    if grouping == "ward24cd":
        names = store.lsoas(geometry=False, columns=["ward24cd", "ward24nm"], **extent.filters())
        lookup = names.drop_duplicates("ward24cd").set_index("ward24cd")["ward24nm"]
        return [str(lookup.get(g, g)) for g in table["group"]]
    if grouping == "lad24cd":
        names = store.lsoas(geometry=False, columns=["lad24cd", "lad24nm"], **extent.filters())
        lookup = names.drop_duplicates("lad24cd").set_index("lad24cd")["lad24nm"]
        return [str(lookup.get(g, g)) for g in table["group"]]
    return [str(g).replace("_", " ").capitalize() for g in table["group"]]


def grouped(store: Store, dataset_name: str, extent: Extent, grouping: str, per: int = PER,
            confidence: float = 0.95) -> pd.DataFrame:
    """by_group's table, with a ``name`` column for people to read."""
    table = analysis.by_group(store, dataset_name, extent, grouping, per=per, confidence=confidence)
    if len(table):
        table.insert(1, "name", _group_names(grouping, table, store, extent))
    return table


# ---- the parts of a section ------------------------------------------------------------------

def age_table(store: Store, dataset_name: str, extent: Extent, per: int = PER) -> pd.DataFrame:
    """Crude rate by age band over the extent (each band's own population), disclosure applied; only
    the age bands in which the dataset has events anywhere (in or out of the extent)."""
    dataset = DatasetStore(store).get(dataset_name)
    counts = rates(dataset, store, keep=("age_band",), **extent.filters())
    counts = counts[counts["population"].notna()]
    bands = counts.groupby(["age_lo", "age_hi", "age_band"], sort=True)[["count", "population"]].sum().reset_index()
    # only the bands the data has events in anywhere: an indicator of under-18s says nothing of adults
    raw = dataset.counts()
    with_events = set(raw.loc[raw["count"] > 0, "age_band"].astype(str))
    bands = bands[(bands["population"] > 0) & bands["age_band"].astype(str).isin(with_events)]
    r = crude_rate(bands["count"], bands["population"], per) if len(bands) else {"value": [], "lower": [],
                                                                                  "upper": []}
    out = pd.DataFrame({"group": bands["age_band"].to_numpy(), "name": bands["age_band"].to_numpy(),
                        "count": bands["count"].to_numpy(float), "population": bands["population"].to_numpy(float),
                        "crude_rate": r["value"], "crude_lower": r["lower"], "crude_upper": r["upper"]})
    return protect_table(out, "count", ["crude_rate", "crude_lower", "crude_upper"], Rule.from_meta(dataset.meta))


def sex_table(store: Store, dataset_name: str, extent: Extent) -> pd.DataFrame:
    """Counts by sex (disclosure applied first) and each sex's share of the events, Wilson 95% limits.
    No rate: there is no LSOA population by sex."""
    dataset = DatasetStore(store).get(dataset_name)
    counts = rates(dataset, store, keep=("sex",), **extent.filters())
    raw = counts.groupby("sex", sort=True)["count"].sum()
    shown = pd.Series(protect_counts(raw.to_numpy(float), Rule.from_meta(dataset.meta)), index=raw.index)
    return _shares(shown, None)


def _shares(shown_counts: pd.Series, populations: pd.Series | None) -> pd.DataFrame:
    """Share of the (disclosure-controlled) activity per group with Wilson 95% limits, and the
    group's share of the population where there is one."""
    total = float(np.nansum(shown_counts.to_numpy(float)))
    rows = []
    for group, count in shown_counts.items():
        row = {"group": group, "name": str(group).replace("_", " ").capitalize(), "count": count,
               "activity_share": np.nan, "activity_lower": np.nan, "activity_upper": np.nan}
        if total > 0 and not np.isnan(count):
            p = proportion([count], [total], 100)
            row.update({"activity_share": p["value"][0], "activity_lower": p["lower"][0],
                        "activity_upper": p["upper"][0]})
        if populations is not None:
            pop_total = float(populations.sum())
            row["population_share"] = float(populations.get(group, np.nan)) / pop_total * 100 if pop_total else np.nan
            row["compared"] = compare(row.get("activity_lower"), row.get("activity_upper"), row["population_share"])
        rows.append(row)
    return pd.DataFrame(rows)


def share_table(table: pd.DataFrame) -> pd.DataFrame:
    """Share of activity against share of population for a by_group table (counts already
    disclosure-controlled; groups with no population left out)."""
    known = table[table["population"].notna()]
    out = _shares(known.set_index("group")["count"], known.set_index("group")["population"])
    out["name"] = known["name"].to_numpy()
    return out


def trend_tables(store: Store, dataset_name: str, extent: Extent, per: int = PER):
    """By_group by national quintile for each period, the SII per period and the test of its change."""
    dataset = DatasetStore(store).get(dataset_name)
    counts = dataset.counts()
    if "period" not in counts:
        return None, None, None
    periods = sorted(p for p in counts["period"].dropna().unique() if str(p))
    if len(periods) < 2:
        return None, None, None
    frames, siis = [], []
    with overlay(store) as over:
        keep = [c for c in counts.columns if c != "period"]
        for i, period in enumerate(periods):
            subset = counts.loc[counts["period"] == period, keep]
            name = f"{dataset_name[:50]}-period-{i}"
            DatasetStore(over).save(name, {k: v for k, v in dataset.meta.items() if k != "name"},
                                    pd.DataFrame(columns=["row", "column", "value", "reason", "used", "count"]),
                                    counts=subset.reset_index(drop=True))
            table = grouped(over, name, extent, "imd_quintile", per=per)
            table.insert(0, "period", period)
            frames.append(table)
            s = table.attrs.get("sii")
            siis.append({"period": period, **({k: v for k, v in s.items() if isinstance(v, (int, float))} if s else {})})
    trend = pd.concat(frames, ignore_index=True)
    sii = pd.DataFrame(siis)
    test = None
    if {"sii", "sii_lower_95", "sii_upper_95"} <= set(sii.columns) and sii["sii"].notna().iloc[[0, -1]].all():
        first, last = sii.iloc[0], sii.iloc[-1]
        se1 = (first["sii_upper_95"] - first["sii_lower_95"]) / (2 * norm.ppf(0.975))
        se2 = (last["sii_upper_95"] - last["sii_lower_95"]) / (2 * norm.ppf(0.975))
        change = float(last["sii"] - first["sii"])
        se = math.sqrt(se1 ** 2 + se2 ** 2)
        z = change / se if se > 0 else float("nan")
        p = float(2 * norm.sf(abs(z))) if se > 0 else float("nan")
        widened = abs(last["sii"]) > abs(first["sii"])
        test = {"first": str(first["period"]), "last": str(last["period"]), "sii_first": float(first["sii"]),
                "sii_last": float(last["sii"]), "change": change, "change_lower": change - norm.ppf(0.975) * se,
                "change_upper": change + norm.ppf(0.975) * se, "z": z, "p": p, "significant": bool(p < 0.05),
                "direction": "widened" if widened else "narrowed", "method": TREND_METHOD}
    return trend, sii, test


def funnel_tables(store: Store, dataset_name: str, extent: Extent, total: dict, per: int = PER):
    """Wards and places against the extent's crude rate, PHE's funnel limits and significance."""
    baseline = total.get("crude_rate")
    if baseline is None or not total.get("population"):
        return None, None
    parts = []
    for grouping, kind in (("ward24cd", "ward"), ("lad24cd", "place")):
        t95 = grouped(store, dataset_name, extent, grouping, per=per, confidence=0.95)
        t = t95[["group", "name", "count", "population", "crude_rate", "crude_lower", "crude_upper"]].copy()
        # the 99.8% limits by_group would give (same Poisson limits, at 99.8%), from its own rate and
        # population rather than a second pass; suppressed rates stay missing
        events = (t["crude_rate"] * t["population"] / per).round().to_numpy()
        known = ~np.isnan(events) & (t["population"].to_numpy(float) > 0)
        lower, upper = np.full(len(t), np.nan), np.full(len(t), np.nan)
        if known.any():
            lower[known], upper[known] = funnel.rate_limits(events[known], t["population"].to_numpy(float)[known],
                                                            per, 0.998)
        t["crude_lower_998"], t["crude_upper_998"] = lower, upper
        t.insert(0, "kind", kind)
        parts.append(t)
    points = pd.concat(parts, ignore_index=True)
    points = points[points["population"].notna() & (points["population"] > 0)].reset_index(drop=True)
    points["significance"] = funnel.significance(points["crude_lower"], points["crude_upper"],
                                                 points["crude_lower_998"], points["crude_upper_998"], baseline)
    average = total["count_raw"] / total["population"]
    if average <= 0:
        return points, None
    wards = points[points["kind"] == "ward"]
    grid = funnel.event_grid(float(wards["population"].min()), float(points["population"].max()), average)
    limits = funnel.limits_at(grid, average, per)
    return points, limits


# ---- findings --------------------------------------------------------------------------------

def fmt(v, digits: int = 1) -> str:
    """A number as the statement prints it (thousands separated); '-' for a missing or suppressed one."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(v):
        return "-"
    return f"{v:,.{digits}f}"


def _interval(lo, hi, digits: int = 1) -> str:
    return f"95% CI {fmt(lo, digits)} to {fmt(hi, digits)}"


def findings(section: Section) -> list[dict]:
    """Plain-English findings from the section's numbers; each says the figure, interval and test."""
    out = []
    per = f"per {section.per:,}"
    kind = "age-standardised rate" if section.rate_column == "dsr" else "crude rate"
    measure = section.measure or section.code
    worse = "higher" if section.higher_is_worse else "lower"
    q = section.quintiles
    if q is not None and section.gap is not None and section.sii is not None:
        v, lo, hi = value_columns(q)
        q1, q5 = q[q["group"] == 1].iloc[0], q[q["group"] == 5].iloc[0]
        s = section.sii
        significant = s["sii_lower_95"] > 0 or s["sii_upper_95"] < 0
        figures = (f"most deprived quintile {fmt(q1[v])} {per} ({_interval(q1[lo], q1[hi])}) against "
                   f"{fmt(q5[v])} ({_interval(q5[lo], q5[hi])}) in the least deprived; ratio {fmt(section.gap['ratio'], 2)}")
        if significant and s["sii"] > 0:
            text = (f"People living in the most deprived areas had a significantly {worse} {kind} of {measure}: "
                    f"{figures}. The slope index of inequality is {fmt(s['sii'])} {per} "
                    f"({_interval(s['sii_lower_95'], s['sii_upper_95'])}), above zero.")
        elif significant:
            text = (f"People living in the least deprived areas fared worse on {measure}: {figures}. The slope "
                    f"index of inequality is {fmt(s['sii'])} {per} ({_interval(s['sii_lower_95'], s['sii_upper_95'])}), "
                    f"below zero.")
        else:
            text = (f"No significant gradient by deprivation in {measure}: {figures}. The slope index of inequality, "
                    f"{fmt(s['sii'])} {per} ({_interval(s['sii_lower_95'], s['sii_upper_95'])}), includes zero.")
        out.append({"topic": "deprivation", "text": text, "figure": s["sii"], "lower": s["sii_lower_95"],
                    "upper": s["sii_upper_95"], "basis": "SII by national IMD 2025 quintile (PHE method); "
                                                         "significant when its 95% interval excludes 0"})
    icb = section.total
    for label, table, what in (("ethnic group", section.ethnic, "people of {} ethnicity"),
                               ("age band", section.age, "people aged {}")):
        if table is None or not len(table) or "compared" not in table:
            continue
        icb = section.ethnic_total if label == "ethnic group" else section.total
        for direction in ("higher", "lower"):
            hits = table[table["compared"] == direction]
            for r in hits.itertuples():
                out.append({"topic": label, "text": (
                    f"The crude rate of {measure} was significantly {direction} than the ICB as a whole "
                    f"({fmt(icb.get('crude_rate'))} {per}{', all ages' if label == 'ethnic group' else ''}) for "
                    f"{what.format(r.name.lower() if label == 'ethnic group' else r.name)}: "
                    f"{fmt(r.crude_rate)} {per} ({_interval(r.crude_lower, r.crude_upper)})."),
                    "figure": r.crude_rate, "lower": r.crude_lower, "upper": r.crude_upper,
                    "basis": COMPARISON_METHOD})
        if not (table["compared"].isin(["higher", "lower"])).any() and table["compared"].notna().any():
            out.append({"topic": label, "text": f"No {label} had a rate of {measure} significantly different from "
                                                f"the ICB as a whole ({fmt(icb.get('crude_rate'))} {per}, "
                                                f"{_interval(icb.get('crude_lower'), icb.get('crude_upper'))}).",
                        "figure": icb.get("crude_rate"), "lower": icb.get("crude_lower"),
                        "upper": icb.get("crude_upper"), "basis": COMPARISON_METHOD})
    if section.shares is not None:
        for r in section.shares.itertuples():
            if getattr(r, "compared", None) in ("higher", "lower"):
                word = "more" if r.compared == "higher" else "less"
                out.append({"topic": "share", "text": (
                    f"{r.name}: {fmt(r.activity_share)}% of the activity ({_interval(r.activity_lower, r.activity_upper)}) "
                    f"against {fmt(r.population_share)}% of the population: significantly {word} than its share."),
                    "figure": r.activity_share, "lower": r.activity_lower, "upper": r.activity_upper,
                    "basis": "Wilson 95% interval of the share of activity against the share of population"})
    t = section.trend_test
    if t is not None:
        if t["significant"]:
            text = (f"The gap by deprivation {t['direction']} significantly between {t['first']} and {t['last']}: "
                    f"the SII went from {fmt(t['sii_first'])} to {fmt(t['sii_last'])} {per} (change "
                    f"{fmt(t['change'])}, {_interval(t['change_lower'], t['change_upper'])}, p = {t['p']:.3f}).")
        else:
            text = (f"The gap by deprivation did not change significantly between {t['first']} and {t['last']}: "
                    f"the SII went from {fmt(t['sii_first'])} to {fmt(t['sii_last'])} {per} (change "
                    f"{fmt(t['change'])}, {_interval(t['change_lower'], t['change_upper'])}, p = {t['p']:.3f}).")
        out.append({"topic": "trend", "text": text, "figure": t["change"], "lower": t["change_lower"],
                    "upper": t["change_upper"], "basis": TREND_METHOD})
    points = section.funnel_points
    if points is not None and len(points):
        wards = points[points["kind"] == "ward"]
        high = wards[wards["significance"] == funnel.SIGNIFICANCE[0]].sort_values("crude_rate", ascending=False)
        low = wards[wards["significance"] == funnel.SIGNIFICANCE[4]]
        names = ", ".join(f"{r.name} ({fmt(r.crude_rate)})" for r in high.head(5).itertuples())
        total = section.total
        text = (f"{len(high)} of {len(wards)} wards had a crude rate above the ICB's {fmt(total.get('crude_rate'))} "
                f"{per} ({_interval(total.get('crude_lower'), total.get('crude_upper'))}) beyond the 99.8% funnel limit" + (f", highest {names}" if len(high) else "") +
                f"; {len(low)} were below it.")
        out.append({"topic": "funnel", "text": text, "figure": section.total.get("crude_rate"), "lower": section.total.get("crude_lower"),
                    "upper": section.total.get("crude_upper"),
                    "basis": "PHE funnel plot (PHEindicatormethods): 99.8% limits around the ICB rate"})
    return out


# ---- the statement ----------------------------------------------------------------------------

def place_name(store: Store, extent: Extent) -> str:
    if extent.level == "england":
        return "England"
    if extent.level == "ward":
        return str(store.lsoas(ward=extent.code, geometry=False, columns=["ward24nm"])["ward24nm"].iloc[0])
    areas = store.areas(extent.level)
    match = areas.loc[areas[f"{extent.level}24cd"] == extent.code, f"{extent.level}24nm"]
    if match.empty:
        raise AnalysisError(f"no {extent.level} {extent.code} in the store")
    return str(match.iloc[0])


def build_section(store: Store, code: str, domain: str, wording: str, metas: list[dict], extent: Extent) -> Section:
    section = Section(code=code, domain=domain, wording=wording, datasets=[m["name"] for m in metas])
    usable = [m for m in metas if DatasetStore(store).get(m["name"]).kind == "lsoa"]
    if not usable:
        if metas:
            section.notes.append("The attached datasets hold GP practice values, not LSOA counts: "
                                 "attach counts per LSOA to segment them.")
        return section
    meta = usable[0]
    name = meta["name"]
    section.dataset = name
    section.measure = meta.get("measure") or name
    section.synthetic = bool(meta.get("synthetic"))
    section.higher_is_worse = bool(meta.get("higher_is_worse", True))
    section.disclosure = Rule.from_meta(meta).describe()
    if len(usable) > 1:
        section.notes.append(f"Using {name}, the newest of the datasets attached ({', '.join(section.datasets)}).")
    columns = set(DatasetStore(store).get(name).counts().columns)
    section.total = extent_total(store, name, extent, section.per)
    section.quintiles = grouped(store, name, extent, "imd_quintile", section.per)
    v, _, _ = value_columns(section.quintiles)
    section.rate_column = v
    section.sii = section.quintiles.attrs.get("sii")
    section.gap = section.quintiles.attrs.get("gap")
    if section.sii is None:
        section.notes.append("No SII: it needs a rate in every national quintile (none suppressed).")
    section.quintiles = _with_comparison(section.quintiles, section.total, v)
    if extent.level in ("icb", "lad"):
        local = f"imd_quintile_in_{extent.level}"
        local_table = grouped(store, name, extent, local, section.per)
        section.quintiles_local = _with_comparison(local_table, section.total, value_columns(local_table)[0])
        section.sii_local = section.quintiles_local.attrs.get("sii")
    if "ethnic_group" in columns:
        section.ethnic_total = ethnic_total(store, name, extent, section.per)
        section.ethnic = _with_comparison(grouped(store, name, extent, "ethnic_group", section.per),
                                          section.ethnic_total)
        section.notes.append("Rates by ethnic group are per 100,000 residents of all ages of the group (Census 2021 "
                             "has no population by ethnic group and age band), so each is compared with the ICB's "
                             f"rate on the same basis ({fmt(section.ethnic_total.get('crude_rate'))} per "
                             f"{section.per:,}: events of known ethnic group over all residents), not with its "
                             "age-specific rate; they are not age-standardised.")
    else:
        section.notes.append("No ethnic group breakdown: ingest with --by ethnic_group.")
    if "age_band" in columns:
        section.age = _with_comparison(age_table(store, name, extent, section.per), section.total)
    else:
        section.notes.append("No age breakdown: ingest with --by age_band; rates are crude, not age-standardised.")
    if "sex" in columns:
        section.sex = sex_table(store, name, extent)
        section.notes.append("By sex: counts and shares of events only; no LSOA population by sex is available, so "
                             "no rate.")
    else:
        section.notes.append("No sex breakdown: ingest with --by sex.")
    if code in SHARE_INDICATORS:
        parts = [share_table(section.quintiles).assign(grouping="national IMD quintile")]
        if section.ethnic is not None:
            parts.append(share_table(section.ethnic).assign(grouping="ethnic group"))
        section.shares = pd.concat(parts, ignore_index=True)
    section.trend, section.trend_sii, section.trend_test = trend_tables(store, name, extent, section.per)
    if section.trend is None:
        section.notes.append("No trend: the data has fewer than two periods (ingest with --by period).")
    section.funnel_points, section.funnel_limits = funnel_tables(store, name, extent, section.total, section.per)
    section.findings = findings(section)
    return section


def build(store: Store, extent: Extent, codes: list[str] | None = None,
          targets: tuple[str, ...] = ()) -> Statement:
    """The statement for an extent: a section per NHS indicator (``codes``, default all). Its maps
    are drawn by :func:`geo.outputs.statement_files.draw_maps`."""
    import datetime as dt

    extent.filters()
    if type(store) is Store:  # the folder store: each table read once for the whole statement
        store = ReadOnceStore(store.root)
    place = place_name(store, extent)
    metas = attached(store)
    sections = []
    for row in catalogue().itertuples():
        if codes and row.metric not in codes:
            continue
        sections.append(build_section(store, row.metric, row.domain, row.indicator, metas.get(row.metric, []), extent))
    statement = Statement(extent, place, sections, dt.date.today().isoformat())
    if targets:
        from geo.views import statement_targets

        statement.targets = statement_targets.select(store, extent, targets, statement)
        statement.targets_groups = list(targets)
    return statement


def numbers(statement: Statement) -> pd.DataFrame:
    """Every number of the statement, one per row: indicator, table, group, measure, value."""
    rows = []

    def add(section, table, group, name, measure, value):
        if value is None or isinstance(value, str):
            return
        rows.append({"indicator": section.code, "dataset": section.dataset, "table": table, "group": str(group),
                     "name": name, "measure": measure, "value": float(value),
                     "synthetic": section.synthetic})

    rate_columns = ["count", "population", "crude_rate", "crude_lower", "crude_upper", "dsr", "dsr_lower",
                    "dsr_upper", "activity_share", "activity_lower", "activity_upper", "population_share",
                    "crude_lower_998", "crude_upper_998"]
    for s in statement.with_data:
        for k in ("count", "population", "crude_rate", "crude_lower", "crude_upper", "dsr", "dsr_lower", "dsr_upper"):
            if k in s.total:
                add(s, "extent", statement.extent.code or "england", statement.place, k, s.total[k])
            if k in s.ethnic_total:
                add(s, "extent_ethnic_basis", statement.extent.code or "england", statement.place, k,
                    s.ethnic_total[k])
        for table_name, table in (("imd_quintile", s.quintiles), ("imd_quintile_local", s.quintiles_local),
                                  ("ethnic_group", s.ethnic), ("age_band", s.age), ("sex", s.sex),
                                  ("shares", s.shares), ("funnel", s.funnel_points), ("trend", s.trend)):
            if table is None:
                continue
            for r in table.to_dict("records"):
                prefix = f"{r['period']} " if table_name == "trend" else ""
                prefix += f"{r['grouping']}: " if table_name == "shares" else ""
                for c in rate_columns:
                    if c in r and r[c] is not None and not (isinstance(r[c], float) and math.isnan(r[c])):
                        add(s, table_name, prefix + str(r["group"]), r.get("name", ""), c, r[c])
        for table_name, d in (("sii", s.sii), ("sii_local", s.sii_local), ("gap", s.gap), ("trend_test", s.trend_test)):
            for k, v in (d or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    add(s, table_name, "", "", k, v)
        if s.trend_sii is not None:
            for r in s.trend_sii.to_dict("records"):
                for k, v in r.items():
                    if k != "period":
                        add(s, "trend_sii", r["period"], "", k, v)
    return pd.DataFrame(rows, columns=["indicator", "dataset", "table", "group", "name", "measure", "value",
                                       "synthetic"])

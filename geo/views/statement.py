"""The statement on information on health inequalities, computed for an extent (usually an ICB).

NHS England asks every ICB to publish, for each of the indicators in
:mod:`geo.sources.nhs_indicators` (ELR01 ... MAT01), the indicator segmented by deprivation and
ethnicity, and by age and sex where available. This module computes every number the statement
shows, from the datasets attached to each indicator (``gapmap ingest ... --nhs-indicator CODE``),
always through :func:`geo.views.map_table.group_table` (:mod:`geo.views.group_statistics`: each
cell published before anything is derived, every figure from the published cells, the indicator's
own definition), so that the statement's numbers are `gapmap analyse --stat by-group`'s, the
panel's and the ward export's. Its outputs, per indicator (a :class:`Section`):

``quintiles`` / ``quintiles_local``
    by national IMD 2025 quintile (GP-practice data: the quintile of each practice's registered
    patients), and by quintile within the extent: published count, population at risk, the
    headline (``value``, ``lower``, ``upper``: crude rate per year, DSR or percentage) and its
    parts, and ``compared``: how the group stands against the extent's own figure.
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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from geo.views import map_table
from geo.rates import funnel
from geo.views.analysis import AnalysisError, Extent
from geo.rates.confidence_intervals import proportion
from geo.store.datasets import DatasetStore
from geo.rates.disclosure import Rule
from geo.sources.indicator_definitions import IndicatorDefinition
from geo.sources.indicator_definitions import higher_is_worse as polarity
from geo.sources.nhs_indicators import catalogue
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
    headline_sentence: str = ""
    notes: list[str] = field(default_factory=list)
    rate_column: str = "crude_rate"
    disclosure: str = ""
    definition: IndicatorDefinition | None = None
    unit: str = "per 100,000 residents per year"
    headline: str = "crude rate"
    years_note: str = ""

    @property
    def is_proportion(self) -> bool:
        return self.definition is not None and self.definition.measure_type == "proportion"

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

    def population_by_sex_age(self, icb=None, lad=None, ward=None):
        first = super(ReadOnceStore, self).population_by_sex_age
        key = (str(self.path), "population-by-sex", icb, lad, ward)
        if key not in self._memo:
            self._memo[key] = first(icb=icb, lad=lad, ward=ward)
        kept = self._memo[key]
        return None if kept is None else kept.copy()


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
    """The headline columns of a published group table: the definition's own measure (crude rate,
    DSR or percentage) with its 95% limits."""
    return "value", "lower", "upper"


def _row(table: pd.DataFrame) -> dict:
    """The single row of an ``extent`` table as a dict (empty when hidden or missing)."""
    if table is None or not len(table):
        return {}
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in table.iloc[0].to_dict().items()}
    return {k: v for k, v in row.items() if v is not None}


def extent_total(store: Store, dataset_name: str, extent: Extent) -> dict:
    """The extent as a whole: one group of the published group table (its count, population and
    headline value with limits, computed from published cells as every group is)."""
    return _row(map_table.group_table(store, dataset_name, extent, "extent"))


def ethnic_total(store: Store, dataset_name: str, extent: Extent) -> dict:
    """The benchmark of the rates by ethnic group: the events of a known ethnic group over the
    residents of those groups, on the same basis as the rates by ethnic group."""
    return _row(map_table.group_table(store, dataset_name, extent, "extent", known_ethnicity_only=True))


def _with_comparison(table: pd.DataFrame, total: dict) -> pd.DataFrame:
    """Each group against the extent's own figure of the same kind (crude with crude, DSR with DSR)."""
    value = table.attrs.get("value_column", "value")
    benchmark = total.get(value)
    table = table.copy()
    table["compared"] = [compare(lo, hi, benchmark) for lo, hi in zip(table["lower"], table["upper"])] \
        if "lower" in table else None
    table.attrs["compared_with"] = value
    return table


def _group_names(grouping: str, table: pd.DataFrame, store: Store, extent: Extent) -> list[str]:
    if grouping.startswith(("imd_quintile", "practice_imd_quintile")):
        return [QUINTILE_NAMES.get(int(g), str(g)) for g in table["group"]]
    if grouping == "ward24cd":
        names = store.lsoas(geometry=False, columns=["ward24cd", "ward24nm"], **extent.filters())
        lookup = names.drop_duplicates("ward24cd").set_index("ward24cd")["ward24nm"]
        return [str(lookup.get(g, g)) for g in table["group"]]
    if grouping == "lad24cd":
        names = store.lsoas(geometry=False, columns=["lad24cd", "lad24nm"], **extent.filters())
        lookup = names.drop_duplicates("lad24cd").set_index("lad24cd")["lad24nm"]
        return [str(lookup.get(g, g)) for g in table["group"]]
    if grouping == "age_band":
        return [f"aged {g}" for g in table["group"]]
    return [str(g).replace("_", " ").capitalize() for g in table["group"]]


def grouped(store: Store, dataset_name: str, extent: Extent, grouping: str, confidence: float = 0.95,
            period: str | None = None) -> pd.DataFrame:
    """The published group table (:func:`geo.views.map_table.group_table`), with a ``name``
    column for people to read."""
    table = map_table.group_table(store, dataset_name, extent, grouping, confidence, period)
    if len(table):
        table.insert(1, "name", _group_names(grouping, table, store, extent))
    return table


# ---- the parts of a section ------------------------------------------------------------------

def age_table(store: Store, dataset_name: str, extent: Extent) -> pd.DataFrame:
    """The headline by age band (bands cut at the indicator's ages; each band's own residents),
    published like every group; only the bands in which the dataset has events anywhere."""
    table = grouped(store, dataset_name, extent, "age_band")
    raw = DatasetStore(store).get(dataset_name).counts()
    with_events = raw.loc[raw["count"] > 0, ["age_lo", "age_hi"]].drop_duplicates()
    lo = table["group"].map(lambda g: int(str(g).split("-")[0].rstrip("+")))
    keep = [bool(((with_events["age_lo"] <= a + 4) & ((with_events["age_hi"] < 0) | (with_events["age_hi"] >= a)))
                 .any()) for a in lo]
    return table[keep].reset_index(drop=True)


def sex_table(store: Store, dataset_name: str, extent: Extent) -> pd.DataFrame:
    """Published counts by sex and each sex's share of the events (Wilson 95% limits), with the
    rate where the build holds a population by sex."""
    table = map_table.group_table(store, dataset_name, extent, "sex")
    shares = _shares(table.set_index("group")["count"], None)
    if table["population"].notna().any():
        shares = shares.merge(table[["group", "population", "value", "lower", "upper"]], on="group", how="left")
    return shares


def _shares(shown_counts: pd.Series, populations: pd.Series | None) -> pd.DataFrame:
    """Share of the (published) activity per group with Wilson 95% limits, and the group's share
    of the population where there is one."""
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
    """Share of activity against share of population for a published group table (groups with no
    population left out)."""
    known = table[table["population"].notna()]
    out = _shares(known.set_index("group")["count"], known.set_index("group")["population"])
    out["name"] = known["name"].to_numpy()
    return out


def trend_tables(store: Store, dataset_name: str, extent: Extent):
    """The published table by national quintile for each period, the SII per period and the test
    of its change."""
    counts = DatasetStore(store).get(dataset_name).counts()
    if "period" not in counts:
        return None, None, None
    periods = sorted(str(p) for p in counts["period"].dropna().unique() if str(p))
    if len(periods) < 2:
        return None, None, None
    frames, siis = [], []
    for period in periods:
        table = grouped(store, dataset_name, extent, "imd_quintile", period=period)
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


def funnel_tables(store: Store, dataset_name: str, extent: Extent, total: dict, definition: IndicatorDefinition,
                  years: float):
    """Wards and places against the extent's value with PHE's funnel limits and significance: the
    Poisson funnel of rates (per year of data) or the proportion funnel, from published counts."""
    baseline = total.get("value") if definition.measure_type == "proportion" else total.get("crude_rate")
    if baseline is None or not total.get("population") or not total.get("count"):
        return None, None
    per = definition.multiplier
    parts = []
    for grouping, kind in (("ward24cd", "ward"), ("lad24cd", "place")):
        t95 = grouped(store, dataset_name, extent, grouping)
        if definition.measure_type == "rate":  # PHE's funnel is of crude rates, whatever the headline
            t95 = t95.assign(value=t95["crude_rate"], lower=t95["crude_lower"], upper=t95["crude_upper"])
        t = t95[["group", "name", "count", "population", "value", "lower", "upper"]].copy()
        known = t["count"].notna().to_numpy() & (t["population"].to_numpy(float) > 0)
        lower, upper = np.full(len(t), np.nan), np.full(len(t), np.nan)
        if known.any():
            if definition.measure_type == "proportion":
                p = proportion(t["count"].to_numpy(float)[known], t["population"].to_numpy(float)[known], per, 0.998)
                lower[known], upper[known] = p["lower"], p["upper"]
            else:
                lower[known], upper[known] = funnel.rate_limits(
                    t["count"].to_numpy(float)[known], t["population"].to_numpy(float)[known] * years, per, 0.998)
        t["lower_998"], t["upper_998"] = lower, upper
        t.insert(0, "kind", kind)
        parts.append(t)
    points = pd.concat(parts, ignore_index=True)
    points = points[points["population"].notna() & (points["population"] > 0)].reset_index(drop=True)
    if definition.measure_type == "proportion":
        average = total["count"] / total["population"]
        points["significance"] = funnel.proportion_significance(points["count"], points["population"], average)
        limits = funnel.proportion_limits(float(points.loc[points["kind"] == "ward", "population"].min()),
                                          float(points["population"].max()), average, per)
        return points, limits
    points["significance"] = funnel.significance(points["lower"], points["upper"], points["lower_998"],
                                                 points["upper_998"], baseline)
    average = total["count"] / (total["population"] * years)
    if average <= 0:
        return points, None
    wards = points[points["kind"] == "ward"]
    grid = funnel.event_grid(float(wards["population"].min()) * years, float(points["population"].max()) * years,
                             average, years)
    limits = funnel.limits_at(grid, average, per, years)
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
    per = section.unit  # "per 100,000 residents aged 0-17 per year", "% of births with a recorded gestation"
    pct = section.is_proportion and section.per == 100
    unit = (lambda v: f"{v}%") if pct else (lambda v: f"{v} {per}")
    kind = section.headline
    measure = section.measure or section.code
    worse = "higher" if section.higher_is_worse else "lower"
    q = section.quintiles
    if q is not None and section.gap is not None and section.sii is not None:
        v, lo, hi = value_columns(q)
        q1, q5 = q[q["group"] == 1].iloc[0], q[q["group"] == 5].iloc[0]
        s = section.sii
        significant = s["sii_lower_95"] > 0 or s["sii_upper_95"] < 0
        points = " percentage points" if pct else f" {per}"
        figures = (f"most deprived quintile {unit(fmt(q1[v]))} ({_interval(q1[lo], q1[hi])}) against "
                   f"{unit(fmt(q5[v]))} ({_interval(q5[lo], q5[hi])}) in the least deprived; ratio "
                   f"{fmt(section.gap['ratio'], 2)}")
        if significant and s["sii"] > 0:
            text = (f"People living in the most deprived areas had a significantly {worse} {kind} of {measure}: "
                    f"{figures}. The slope index of inequality is {fmt(s['sii'])}{points} "
                    f"({_interval(s['sii_lower_95'], s['sii_upper_95'])}), above zero.")
        elif significant:
            text = (f"People living in the least deprived areas fared worse on {measure}: {figures}. The slope "
                    f"index of inequality is {fmt(s['sii'])}{points} ({_interval(s['sii_lower_95'], s['sii_upper_95'])}), "
                    f"below zero.")
        else:
            text = (f"No significant gradient by deprivation in {measure}: {figures}. The slope index of inequality, "
                    f"{fmt(s['sii'])}{points} ({_interval(s['sii_lower_95'], s['sii_upper_95'])}), includes zero.")
        out.append({"topic": "deprivation", "text": text, "figure": s["sii"], "lower": s["sii_lower_95"],
                    "upper": s["sii_upper_95"], "basis": "SII by national IMD 2025 quintile (PHE method); "
                                                         "significant when its 95% interval excludes 0"})
    for label, table, what in (("ethnic group", section.ethnic, "people of {} ethnicity"),
                               ("age band", section.age, "people {}")):
        if table is None or not len(table) or "compared" not in table:
            continue
        icb = section.ethnic_total if label == "ethnic group" else section.total
        crude = "percentage" if section.is_proportion else "crude rate"
        # the ICB's figure of the same kind as the table's (crude with crude), as the comparison uses
        column = table.attrs.get("value_column", "value")
        prefix = {"crude_rate": "crude", "proportion": "proportion", "dsr": "dsr"}.get(column)
        icb = {"value": icb.get(column), "lower": icb.get(f"{prefix}_lower") if prefix else icb.get("lower"),
               "upper": icb.get(f"{prefix}_upper") if prefix else icb.get("upper")}
        for direction in ("higher", "lower"):
            hits = table[table["compared"] == direction]
            for r in hits.itertuples():
                out.append({"topic": label, "text": (
                    f"The {crude} of {measure} was significantly {direction} than the ICB as a whole "
                    f"({unit(fmt(icb.get('value')))}) for "
                    f"{what.format(r.name.lower() if label == 'ethnic group' else r.name)}: "
                    f"{unit(fmt(r.value))} ({_interval(r.lower, r.upper)})."),
                    "figure": r.value, "lower": r.lower, "upper": r.upper,
                    "basis": COMPARISON_METHOD})
        if not (table["compared"].isin(["higher", "lower"])).any() and table["compared"].notna().any():
            out.append({"topic": label, "text": f"No {label} had a {crude} of {measure} significantly different "
                                                f"from the ICB as a whole ({unit(fmt(icb.get('value')))}, "
                                                f"{_interval(icb.get('lower'), icb.get('upper'))}).",
                        "figure": icb.get("value"), "lower": icb.get("lower"),
                        "upper": icb.get("upper"), "basis": COMPARISON_METHOD})
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
        else:  # the same words whatever the unit
            text = (f"The gap by deprivation did not change significantly between {t['first']} and {t['last']}: "
                    f"the SII went from {fmt(t['sii_first'])} to {fmt(t['sii_last'])} {per} (change "
                    f"{fmt(t['change'])}, {_interval(t['change_lower'], t['change_upper'])}, p = {t['p']:.3f}).")
        out.append({"topic": "trend", "text": text, "figure": t["change"], "lower": t["change_lower"],
                    "upper": t["change_upper"], "basis": TREND_METHOD})
    points = section.funnel_points
    if points is not None and len(points):
        wards = points[points["kind"] == "ward"]
        high = wards[wards["significance"] == funnel.SIGNIFICANCE[0]].sort_values("value", ascending=False)
        low = wards[wards["significance"] == funnel.SIGNIFICANCE[4]]
        names = ", ".join(f"{r.name} ({fmt(r.value)})" for r in high.head(5).itertuples())
        total = section.total
        crude = "percentage" if section.is_proportion else "crude rate"
        benchmark = total.get("value") if section.is_proportion else total.get("crude_rate")
        low_, high_ = ((total.get("lower"), total.get("upper")) if section.is_proportion else
                       (total.get("crude_lower"), total.get("crude_upper")))
        text = (f"{len(high)} of {len(wards)} wards had a {crude} above the ICB's {unit(fmt(benchmark))} "
                f"({_interval(low_, high_)}) beyond the 99.8% funnel limit" + (f", highest {names}" if len(high) else "") +
                f"; {len(low)} were below it.")
        out.append({"topic": "funnel", "text": text, "figure": benchmark, "lower": low_, "upper": high_,
                    "basis": "PHE funnel plot (PHEindicatormethods): 99.8% limits around the ICB's "
                             + ("proportion (binomial, Wilson)" if section.is_proportion else "rate (Poisson)")})
    return out


def headline_sentence(section: Section) -> str:
    """One line above the detail, in the statement's own words: who, in the most deprived areas
    against the least, and whether the SII's 95% interval says the gap is real ("significantly"
    only then). Empty when there is no SII."""
    s, q, d = section.sii, section.quintiles, section.definition
    if not s or q is None or d is None or not len(q):
        return ""
    who = "Children" if d.age_hi is not None and d.age_hi < 18 else "Adults" if d.age_lo >= 18 else "People"
    if d.level == "practice":
        who = "Patients of GP practices"
    where = "serving the most deprived populations" if d.level == "practice" else "living in the most deprived areas"
    measure = (section.measure or section.code).replace(" (SYNTHETIC)", "")
    measure = measure[:1].lower() + measure[1:]
    significant = s["sii_lower_95"] > 0 or s["sii_upper_95"] < 0
    if not significant:
        return f"{measure[:1].upper() + measure[1:]}: no significant difference by deprivation (the SII's 95% interval includes 0)."
    worse = s["sii"] > 0
    if section.higher_is_worse:
        word = "higher" if worse else "lower"
    else:
        word = "lower" if worse else "higher"
    least = "serving the least deprived" if d.level == "practice" else "in the least deprived areas"
    return f"{who} {where} had a significantly {word} {section.headline} of {measure} than those {least}."


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
    columns = set(DatasetStore(store).get(name).counts().columns)
    section.dataset = name
    measure = str(meta.get("measure") or "").strip()  # an ingest without --measure stores the name (a slug)
    section.measure = measure if measure and measure != name else f"{code}: {wording}"
    section.synthetic = bool(meta.get("synthetic"))
    section.higher_is_worse = polarity(meta)
    section.disclosure = Rule.from_meta(meta).describe()
    if len(usable) > 1:
        section.notes.append(f"Using {name}, the newest of the datasets attached ({', '.join(section.datasets)}).")
    practice_level = meta.get("level") == "practice"
    try:
        quintiles = grouped(store, name, extent, "practice_imd_quintile" if practice_level else "imd_quintile")
    except AnalysisError as exc:  # e.g. a proportion without its denominator: said, not computed
        section.dataset = None
        section.notes.append(f"{name} cannot be reported as this indicator: {exc}")
        return section
    definition = IndicatorDefinition.from_meta({"definition": quintiles.attrs["definition"]})
    section.definition, section.per = definition, definition.multiplier
    section.unit, section.headline = quintiles.attrs["unit"], quintiles.attrs["headline"]
    section.years_note = quintiles.attrs.get("years_note", "")
    section.rate_column = quintiles.attrs.get("value_column", "value")
    section.notes.append(f"Definition: {definition.describe()}.")
    if definition.measure_type == "rate":
        section.notes.append(f"Period: {section.years_note}; rates are per year.")
    elif section.years_note.startswith("the latest period"):
        section.notes.append(f"Period: {section.years_note}.")
    section.notes += quintiles.attrs.get("notes", [])
    section.total = extent_total(store, name, extent)
    section.sii = quintiles.attrs.get("sii")
    section.gap = quintiles.attrs.get("gap")
    if section.sii is None:
        section.notes.append("No SII: it needs a published value in every national quintile (none hidden).")
    section.quintiles = _with_comparison(quintiles, section.total)
    if practice_level:
        section.notes.append("GP practice data: by the IMD 2025 quintile of each practice's registered patients "
                             "(as Fingertips' practice profiles); the ICB's figure, the wards and the places share "
                             "each practice's numbers among the LSOAs its patients live in (NHS England's "
                             "registrations by LSOA).")
    if extent.level in ("icb", "lad") and not practice_level:
        local_table = grouped(store, name, extent, f"imd_quintile_in_{extent.level}")
        section.quintiles_local = _with_comparison(local_table, section.total)
        section.sii_local = section.quintiles_local.attrs.get("sii")
    if "ethnic_group" in columns:
        section.ethnic_total = ethnic_total(store, name, extent)
        section.ethnic = _with_comparison(grouped(store, name, extent, "ethnic_group"), section.ethnic_total)
        words = ("Percentages by ethnic group are compared with the ICB's percentage over the people of a known "
                 "ethnic group" if section.is_proportion else
                 f"Rates by ethnic group are {section.unit} of the group (" + "; ".join(
                     n for n in section.ethnic.attrs.get("notes", []) if n.startswith("Residents of each ethnic"))
                 + "), compared with the ICB's rate on the same basis "
                 f"({fmt(section.ethnic_total.get('value'))}: events of a known ethnic group over the residents "
                 f"of those groups); they are crude, not standardised")
        section.notes.append(words + ".")
    else:
        section.notes.append("No ethnic group breakdown: ingest with --by ethnic_group.")
    if "age_band" in columns:
        section.age = _with_comparison(age_table(store, name, extent), section.total)
        section.notes.append(f"Each age band is compared with the ICB's own {section.headline} "
                             f"({section.unit}), on the indicator's ages.")
    elif definition.measure_type == "rate":
        section.notes.append("No age breakdown: ingest with --by age_band; rates are crude, not age-standardised.")
    if "sex" in columns:
        section.sex = sex_table(store, name, extent)
        if "value" not in section.sex:
            section.notes.append("By sex: counts and shares of events only; this build holds no LSOA population by "
                                 "sex, so no rate.")
    else:
        section.notes.append("No sex breakdown: ingest with --by sex.")
    if code in SHARE_INDICATORS:
        parts = [share_table(section.quintiles).assign(grouping="national IMD quintile")]
        if section.ethnic is not None:
            parts.append(share_table(section.ethnic).assign(grouping="ethnic group"))
        section.shares = pd.concat(parts, ignore_index=True)
    section.trend, section.trend_sii, section.trend_test = trend_tables(store, name, extent)
    if section.trend is None:
        section.notes.append("No trend: the data has fewer than two periods (ingest with --by period).")
    section.funnel_points, section.funnel_limits = funnel_tables(store, name, extent, section.total, definition,
                                                                 float(quintiles.attrs.get("years", 1.0)))
    section.findings = findings(section)
    section.headline_sentence = headline_sentence(section)
    return section


def build(store: Store, extent: Extent, codes: list[str] | None = None,
          targets: tuple[str, ...] = (), points=None) -> Statement:
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

        from geo.views.targeting import check_points

        statement.targets = statement_targets.select(store, extent, targets, check_points(points))
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

    rate_columns = ["count", "population", "person_years", "value", "lower", "upper", "crude_rate", "crude_lower",
                    "crude_upper", "dsr", "dsr_lower", "dsr_upper", "proportion", "proportion_lower",
                    "proportion_upper", "activity_share", "activity_lower", "activity_upper", "population_share",
                    "lower_998", "upper_998"]
    for s in statement.with_data:
        for k in ("count", "population", "person_years", "value", "lower", "upper", "crude_rate", "crude_lower",
                  "crude_upper", "dsr", "dsr_lower", "dsr_upper", "proportion", "proportion_lower", "proportion_upper"):
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

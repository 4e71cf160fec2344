"""Every statistic of a group of LSOAs, computed from published counts: the ONE group path.

The statement (its web pages, CSV, XLSX and deck), ``gapmap analyse --stat by-group``, the ward
export, the map's side panel and the API all take their group numbers from :func:`group_table`.
Nothing about a group is computed from a raw count:

1. **Cells.** A dataset's counts over the extent, for every LSOA and breakdown (with zeros where
   no event fell: :func:`geo.store.datasets.rates`), and the population at risk of each cell as
   the indicator's definition says (:mod:`geo.sources.indicator_definitions`): residents of the
   definition's ages (ONS single-year estimates cut at the range; ESP bands clipped to it), by sex
   where the definition standardises by sex and the store holds a population by sex, times the
   years the data covers; or the denominator the data supplies (eligible people, births).
2. **Disclosure control, cell by cell, before anything is derived.** Each group's total, each
   age band of a group's DSR and each supplied denominator is published through
   :func:`geo.rates.disclosure.publish_totals`: hidden from 1 to 7, else perturbed by a keyed
   whole-number error and rounded to 5 (the same cell gets the same value in every table). In a
   DSR, an age band whose count is hidden is joined to its neighbour (the one with fewer events)
   until no band is hidden; ``dsr_bands`` says how many bands it was computed on.
3. **Statistics from the published cells only**: crude rates per ``multiplier`` per year with
   PHE's Byar/exact limits, DSRs with Dobson limits, proportions with Wilson limits, the SII
   (linear fit) and RII (log-linear fit for rates, logit for proportions) by PHE's method, the
   quintile 1 vs 5 gap and ratio. So rate x population gives back only a published count, and an
   interval inverts only to a published count.

Columns of the table (one row per group with a population):

``group``, ``count`` (published events; missing where hidden), ``population`` (the population
at risk: residents of the ages, or the supplied denominator, published), ``person_years``
(``population`` x years, for rates), ``value``, ``lower``, ``upper`` (the definition's headline:
crude rate, DSR or percentage, with 95% limits), ``crude_rate``, ``crude_lower``,
``crude_upper`` (rates), ``dsr``, ``dsr_lower``, ``dsr_upper``, ``dsr_bands`` (standardised
rates), ``proportion``, ``proportion_lower``, ``proportion_upper`` (proportions, in %),
``suppressed`` (True where the count is hidden).

``attrs``: ``definition`` (its fields), ``unit`` ("per 100,000 residents aged 0-17 per year"),
``headline`` ("crude rate"), ``years`` and ``years_note``, ``per``, ``sii`` and ``gap`` (national
or local quintile groupings with every quintile shown), ``notes`` (what was standardised how,
which population), ``events_without_denominator`` (published), ``disclosure``, ``synthetic``,
``measure``, ``grouping``, ``dataset``.
"""
from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from geo.rates.confidence_intervals import crude_rate, proportion
from geo.rates.disclosure import Rule, publish_totals
from geo.rates.inequality import gap_and_ratio, gapmap_sii
from geo.rates.standard_population import ESP2013
from geo.rates.standardised_rates import dsr_many
from geo.sources.indicator_definitions import (PERIOD_YEARS, IndicatorDefinition, definition_of, latest_period,
                                               years_of_data)
from geo.sources.indicator_definitions import higher_is_worse as polarity
from geo.store.datasets import rates
from geo.views.analysis import GROUPINGS, AnalysisError, Extent
from geo.views.cache_budget import LruEntries

GROUPS = {**GROUPINGS, "extent": "the extent as a whole", "age_band": "age band", "sex": "sex",
          "practice_imd_quintile": "IMD 2025 quintile of the GP practice's registered patients"}
SEXES = ("female", "male")
EVENTS_NOTE = ("Confidence limits treat events as independent (Poisson). Where one person can be counted "
               "more than once (repeat attenders, readmissions), the limits are too narrow: PHE's method for "
               "non-independent events (PHEindicatormethods calculate_dsr with independent_events = FALSE) "
               "needs how many people had 1, 2, 3... events, which a count of events does not hold.")


class GroupError(AnalysisError):
    """A group table that cannot be made, in words for the user."""


# ---- the secret that keys the perturbation -------------------------------------------------------
def disclosure_key(store) -> bytes:
    """``GAPMAP_DISCLOSURE_KEY``, else a key generated once into the store folder's
    ``disclosure_key`` (0600). Every server of a team must share it (set the variable), or the
    same total could be published with two different errors."""
    from geo.settings import disclosure_key as from_env, store_dir

    given = from_env()
    if given:
        return given.encode("utf-8")
    root = Path(getattr(store, "root", None) or store_dir())
    path = root / "disclosure_key"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as handle:  # first writer wins
                handle.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text(encoding="ascii").strip().encode("utf-8")


def cell_key(dataset: str, members, *parts) -> str:
    """What a published cell counts: the dataset, the LSOAs it sums (their sorted codes, hashed)
    and its breakdown. The same cell has the same key whichever table or extent asks for it."""
    digest = hashlib.sha256("\n".join(sorted(map(str, members))).encode("utf-8")).hexdigest()
    return "|".join([dataset, digest, *map(str, parts)])


# ---- cells: counts and populations at risk -----------------------------------------------------
def _single_years(store, extent: Extent) -> pd.DataFrame:
    pop = store.population_by_age(**extent.filters()).set_index("lsoa21cd")
    return pop[[c for c in pop.columns if c.startswith("age_")]].astype(float)


def _ages_sum(single: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Residents of ages lo..hi (hi -1 or past 90: to 90+) in the LSOAs at ``rows``."""
    values = single.to_numpy(float)
    cum = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
    top = values.shape[1] - 1
    lo = np.minimum(lo.astype(int), top + 1)
    hi = np.where(hi < 0, top, np.minimum(hi, top)).astype(int)
    safe = np.where(rows >= 0, rows, 0)
    return np.where(rows >= 0, cum[safe, hi + 1] - cum[safe, lo], np.nan)


def _population_by_sex(store, extent: Extent):
    reader = getattr(store, "population_by_sex_age", None)
    if reader is None:
        return None
    frame = reader(**extent.filters())
    return None if frame is None or not len(frame) else frame


def _events_outside(store, counts: pd.DataFrame, extent: Extent, lo_age: int, hi_age: int,
                    period: str | None) -> float:
    """Events of the extent (and period) in age bands wholly outside ages lo_age..hi_age."""
    top = np.where(counts["age_hi"].to_numpy(int) < 0, 200, counts["age_hi"].to_numpy(int))
    outside = (top < lo_age) | (counts["age_lo"].to_numpy(int) > hi_age)
    if period is not None:
        outside &= (counts["period"].astype(str) == str(period)).to_numpy()
    if not outside.any():
        return 0.0
    part = counts[outside]
    codes = store.lsoas(geometry=False, columns=["lsoa21cd"], **extent.filters())["lsoa21cd"]
    inside = pd.Index(codes.astype(object)).get_indexer(part["lsoa21cd"].astype(object)) >= 0
    return float(part.loc[inside, "count"].sum())


CELLS = LruEntries(max_entries=8, max_bytes=256 << 20, name="raw cells of the group tables")


def cells(store, dataset, extent: Extent, definition: IndicatorDefinition, keep: tuple[str, ...],
          period: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Raw cells (never published): ``lsoa21cd``, the kept breakdowns, ``age_lo``/``age_hi``
    (clipped to the definition's ages) where age bands are kept, ``count``, ``population`` (at
    risk, of the definition's ages and sex; or supplied), and notes saying how. Kept in memory per
    store build and dataset version (the groupings of one area share them: wards and IMD quintiles
    keep the same breakdowns); each caller gets its own copy."""
    identity, build = getattr(store, "identity", None), getattr(store, "build_id", None)
    version = getattr(dataset, "version", None)
    if identity is None or build is None or version is None:
        return _cells(store, dataset, extent, definition, keep, period)
    key = (identity, build(), dataset.name, version, extent.level, extent.code, definition, tuple(keep), period)
    table, notes = CELLS.memo(key, lambda: _cells(store, dataset, extent, definition, keep, period),
                              lambda held: int(held[0].memory_usage(deep=True).sum()))
    return table.copy(), list(notes)


def _cells(store, dataset, extent: Extent, definition: IndicatorDefinition, keep: tuple[str, ...],
           period: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    notes = []
    counts = dataset.counts()
    present = set(counts.columns)
    kept = tuple(k for k in keep if k in present)
    wanted = kept + (("period",) if period is not None else ())
    supplied = "denominator" in counts.columns
    lo_age, hi_age = definition.age_lo, (definition.age_hi if definition.age_hi is not None else 200)
    # the grid gets rows only for the age bands that reach into the indicator's ages; the events of the
    # other bands are counted here, for the note
    ages = (lo_age, hi_age) if "age_band" in kept and not supplied else None
    table = rates(dataset, store, keep=tuple(dict.fromkeys(wanted)), ages=ages, **extent.filters())
    if period is not None:
        table = table[table["period"].astype(str) == str(period)].drop(columns=["period"])
    if supplied:
        table["population"] = table["population"].astype(float)
        return table.reset_index(drop=True), notes
    if ages is not None:
        dropped = _events_outside(store, counts, extent, lo_age, hi_age, period)
        if dropped:
            notes.append(f"{dropped:g} events in age bands outside the indicator's ages {definition.ages} were "
                         f"left out")
    single = _single_years(store, extent)
    rows = single.index.get_indexer(table["lsoa21cd"])
    if "age_band" in kept:  # only bands that reach into the ages: rates(ages=...) left out the others
        table = table.copy()
        a, b = table["age_lo"].to_numpy(int), table["age_hi"].to_numpy(int)
        b_open = np.where(b < 0, 200, b)
        straddle = (a < lo_age) | (b_open > hi_age)
        a, b_open = np.maximum(a, lo_age), np.minimum(b_open, hi_age)
        if straddle.any() and not definition.all_ages and dataset.meta.get("shape") != "records":
            notes.append(f"age bands are cut at the indicator's ages {definition.ages}: the events of a band that "
                         f"crosses the limit are counted with the residents of its ages inside the limit")
        table["age_lo"], table["age_hi"] = a, np.where(b_open >= 200, -1, b_open)
        table["population"] = _ages_sum(single, table["age_lo"].to_numpy(), table["age_hi"].to_numpy(), rows)
    else:
        hi = np.full(len(table), -1 if definition.age_hi is None else definition.age_hi)
        table["population"] = _ages_sum(single, np.full(len(table), lo_age), hi, rows)
    if "ethnic_group" in kept:
        residents = store.lsoas(geometry=False, columns=["lsoa21cd"] + [
            c for c in store.columns("lsoas") if c.startswith("ethnic_") and c.endswith("_residents")],
            **extent.filters()).set_index("lsoa21cd")
        groups = [c[len("ethnic_"):-len("_residents")] for c in residents.columns]
        total = residents.sum(axis=1).replace(0, np.nan)
        share = residents.div(total, axis=0)
        share.columns = groups
        long = share.stack()
        long.index.names = ["lsoa21cd", "ethnic_group"]
        index = pd.MultiIndex.from_arrays([table["lsoa21cd"], table["ethnic_group"].astype(str)])
        if definition.all_ages and "age_band" not in kept:  # Census 2021 residents of the group themselves
            counted = residents.copy()
            counted.columns = groups
            whole = counted.stack()
            whole.index.names = ["lsoa21cd", "ethnic_group"]
            table["population"] = whole.astype(float).reindex(index).to_numpy()
        else:
            table["population"] = table["population"].to_numpy() * long.reindex(index).to_numpy()
        notes.append("Residents of each ethnic group: each LSOA's residents of the indicator's ages split by its "
                     "Census 2021 ethnic mix of all ages (Census 2021 TS021 has no ages)"
                     if not definition.all_ages else "Residents of each ethnic group: Census 2021 (TS021)")
    if "sex" in kept:
        by_sex = _population_by_sex(store, extent)
        table["sex"] = table["sex"].astype(str)
        if by_sex is None:
            table["population"] = np.nan  # no population by sex: the caller falls back
        else:
            for sex in SEXES:
                part = by_sex[by_sex["sex"] == sex].set_index("lsoa21cd")
                part = part[[c for c in part.columns if c.startswith("age_")]].astype(float)
                mine = (table["sex"] == sex).to_numpy()
                r = part.index.get_indexer(table.loc[mine, "lsoa21cd"])
                lo = table.loc[mine, "age_lo"].to_numpy() if "age_lo" in table else np.full(mine.sum(), lo_age)
                hi = table.loc[mine, "age_hi"].to_numpy() if "age_hi" in table else np.full(
                    mine.sum(), -1 if definition.age_hi is None else definition.age_hi)
                table.loc[mine, "population"] = _ages_sum(part, lo, hi, r)
            table.loc[~table["sex"].isin(SEXES), "population"] = np.nan
    if definition.sex != "persons" and "sex" not in kept:
        notes.append(f"The indicator counts {definition.sex}s only; with no population by sex in this build, the "
                     f"denominator is residents of both sexes")
    return table.reset_index(drop=True), notes


# ---- publishing --------------------------------------------------------------------------------
def _esp(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ESP 2013 weight of ages lo..hi (hi -1: to 90+), each 5-year band shared pro rata by year."""
    per_year = np.repeat(np.asarray(ESP2013[:18], dtype=float) / 5, 5)
    per_year = np.append(per_year, ESP2013[18])  # 90+ as one 'year'
    cum = np.concatenate([[0.0], np.cumsum(per_year)])
    hi = np.where(hi < 0, 90, np.minimum(hi, 90))
    return cum[hi + 1] - cum[np.minimum(lo, 90)]


def _joined_bands(name: str, members, bands: pd.DataFrame, rule: Rule, secret: bytes, sex) -> pd.DataFrame:
    """One group's (and sex's) age bands, in age order, with each band whose count is hidden joined
    to its neighbour (the one with fewer events) until none is, or one band is left; ``published``
    and ``hidden`` for each. A band's published count is keyed on its own ages, so the same band
    has the same count wherever it is asked for."""
    rows = bands.sort_values("age_lo")[["age_lo", "age_hi", "count", "population"]].to_numpy(float).tolist()
    while True:
        keys = [cell_key(name, members, "band", int(a), int(b), *([sex] if sex is not None else []))
                for a, b, _, _ in rows]
        published, hidden = publish_totals(np.array([r[2] for r in rows]), keys, rule, secret)
        if not hidden.any() or len(rows) == 1:
            out = pd.DataFrame(rows, columns=["age_lo", "age_hi", "count", "population"])
            out["published"], out["hidden"] = published, hidden
            return out
        i = int(np.flatnonzero(hidden)[0])
        if i == 0:
            j = 1
        elif i == len(rows) - 1:
            j = i - 1
        else:
            j = i - 1 if rows[i - 1][2] <= rows[i + 1][2] else i + 1
        a, b = sorted((i, j))
        lo, hi = rows[a][0], (-1 if rows[b][1] < 0 else rows[b][1])
        rows[a:b + 1] = [[lo, hi, rows[a][2] + rows[b][2], rows[a][3] + rows[b][3]]]


def _dsr(name: str, raw: pd.DataFrame, members: dict, rule: Rule, secret: bytes, per: int, confidence: float,
         by_sex: bool) -> pd.DataFrame:
    """DSR per group from published band cells (see the module docstring): each age band (of each
    sex, for age-sex standardisation) published first, a band whose count is hidden joined to its
    neighbour (:func:`_joined_bands`), the ESP 2013 weight of each band its years' share. ``raw``:
    group, [sex], age_lo, age_hi, count, population."""
    keys = ["group", "sex"] if by_sex else ["group"]
    out = []
    fine = raw.groupby(keys + ["age_lo", "age_hi"], sort=True)[["count", "population"]].sum().reset_index()
    fine = fine[fine["population"] > 0]
    for group, part in fine.groupby("group", sort=True):
        parts = [(sex, p) for sex, p in part.groupby("sex", sort=True)] if by_sex else [(None, part)]
        bands = pd.concat([_joined_bands(name, members[group], p, rule, secret, sex) for sex, p in parts],
                          ignore_index=True)
        joined = len(bands) < len(part)
        row = {"group": group, "dsr": np.nan, "dsr_lower": np.nan, "dsr_upper": np.nan,
               "dsr_bands": (f"{len(bands)} age bands, after joining bands with few events to their neighbours"
                             if joined else "the indicator's own age bands")}
        if bands["hidden"].any():
            row["dsr_bands"] = "not shown: even joined over every age, the events are too few"
        else:
            lo, hi = bands["age_lo"].to_numpy(int), bands["age_hi"].to_numpy(int)
            d = dsr_many(bands["published"].to_numpy(float)[None, :], bands["population"].to_numpy(float)[None, :],
                         _esp(lo, hi), per, confidence)
            row.update({"dsr": d["value"][0], "dsr_lower": d["lower"][0], "dsr_upper": d["upper"][0]})
        out.append(row)
    return pd.DataFrame(out, columns=["group", "dsr", "dsr_lower", "dsr_upper", "dsr_bands"])


def _with_interval(out: pd.DataFrame, ok: np.ndarray, compute, base: str, column: str, prefix: str, per: int,
                   confidence: float) -> tuple[str, str, str]:
    """``column`` and ``<prefix>_lower``/``<prefix>_upper`` of the published groups marked ``ok``:
    ``compute`` (crude_rate or proportion) of ``count`` over ``base``; returns the three names."""
    names = (column, f"{prefix}_lower", f"{prefix}_upper")
    for name in names:
        out[name] = np.nan
    if ok.any():
        r = compute(out.loc[ok, "count"].to_numpy(float), out.loc[ok, base].to_numpy(float), per, confidence)
        for name, key in zip(names, ("value", "lower", "upper")):
            out.loc[ok, name] = r[key]
    return names


def _group_members(store, extent: Extent, grouping: str, cellz: pd.DataFrame) -> tuple[pd.Series, dict]:
    """Each cell's group, and each group's member LSOAs (what its published totals sum)."""
    if grouping in ("ethnic_group", "age_band", "sex"):  # a breakdown: every group sums every LSOA
        group = cellz[grouping].astype(str)
        every = sorted(cellz["lsoa21cd"].unique().tolist())
        return group, {g: every for g in group.unique()}
    if grouping == "extent":
        group = pd.Series(extent.code or "england", index=cellz.index)
        return group, {extent.code or "england": sorted(cellz["lsoa21cd"].unique().tolist())}
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", grouping], **extent.filters()).set_index("lsoa21cd")
    of = lsoas[grouping]
    group = cellz["lsoa21cd"].map(of)
    pairs = pd.DataFrame({"group": of.to_numpy(), "code": of.index.to_numpy(dtype=object)}).dropna(subset=["group"])
    pairs = pairs.sort_values(["group", "code"], kind="stable")
    g, c = pairs["group"].to_numpy(), pairs["code"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(g)]
    members = {g[a]: c[a:b].tolist() for a, b in zip(starts, ends)}  # each group's LSOAs, sorted
    return group, members


def group_table(store, dataset, extent: Extent, grouping: str = "imd_quintile", confidence: float = 0.95,
                period: str | None = None, known_ethnicity_only: bool = False) -> pd.DataFrame:
    """The published table of ``dataset`` (a :class:`geo.store.datasets.Dataset` or the map
    table's loaded copy) by ``grouping`` over ``extent`` (see the module docstring).
    ``period``: one period of the data only (the trend). ``known_ethnicity_only``: with grouping
    ``extent``, only the events and residents of the Census ethnic groups (the benchmark of the
    rates by ethnic group)."""
    if grouping not in GROUPS:
        raise GroupError(f"unknown grouping {grouping!r}; choose one of {', '.join(GROUPS)}")
    if grouping == "practice_imd_quintile":
        return practice_table(store, dataset, extent, confidence)
    if dataset.kind != "lsoa":
        raise GroupError(f"dataset {dataset.name!r} holds GP practice values, not LSOA counts")
    meta = dataset.meta
    counts_frame = dataset.counts()
    columns = set(counts_frame.columns)
    has_age = "age_band" in columns
    definition = definition_of(meta, has_age)
    rule = Rule.from_meta(meta)
    secret = disclosure_key(store)
    name = dataset.name
    years, years_note = years_of_data(meta, counts_frame, definition)
    latest = latest_period(definition, counts_frame) if period is None else None
    if latest is not None:  # a snapshot (uptake each season): the latest, not every season pooled
        period = latest
    if period is not None:
        unit = meta.get("period_unit") or (meta.get("options") or {}).get("period_unit") or "financial-year"
        years, years_note = PERIOD_YEARS.get(unit, 1.0), f"one {unit.replace('-', ' ')} period ({period})"
        if latest is not None:
            years_note = (f"the latest period, {latest}: the indicator is a snapshot, so its periods are not pooled "
                          f"(each is in the trend)")
    if definition.measure_type not in ("rate", "proportion"):
        raise GroupError(f"dataset {name!r} is a {definition.measure_type}: Gapmap tables rates and proportions "
                         f"by group; a {definition.measure_type} per group needs its own method")
    supplied = "denominator" in columns
    if definition.measure_type == "proportion" and not supplied:
        raise GroupError(f"dataset {name!r} is defined as a proportion but holds no denominator: ingest it with "
                         f"--column denominator=COLUMN")
    per = definition.multiplier
    notes = []
    standardise = definition.measure_type == "rate" and definition.standardisation != "none" and has_age \
        and not supplied and grouping not in ("age_band", "ethnic_group", "sex") and not known_ethnicity_only
    by_sex = standardise and definition.standardisation == "age-sex" and "sex" in columns
    if standardise and definition.standardisation == "age-sex" and not by_sex:
        notes.append("Standardised by age only: the data has no sex breakdown (ingest with --by sex)")
    keep = []
    if grouping == "ethnic_group" or (grouping == "extent" and known_ethnicity_only):
        if "ethnic_group" not in columns:
            raise GroupError(f"dataset {name!r} has no ethnic group breakdown (ingest with --by ethnic_group)")
        keep.append("ethnic_group")
    if has_age and (standardise or grouping == "age_band" or not definition.all_ages):
        keep.append("age_band")
    if grouping == "sex":
        if "sex" not in columns:
            raise GroupError(f"dataset {name!r} has no sex breakdown (ingest with --by sex)")
        keep.append("sex")
    if by_sex:
        keep.append("sex")
    raw, cell_notes = cells(store, dataset, extent, definition, tuple(dict.fromkeys(keep)), period)
    notes += cell_notes
    if by_sex and raw["population"].isna().all():
        by_sex = False
        notes.append("Standardised by age only: this build holds no population by sex (ONS mid-year LSOA estimates "
                      "by sex and single year of age)")
        raw, _ = cells(store, dataset, extent, definition, tuple(k for k in dict.fromkeys(keep) if k != "sex"), period)
    if grouping == "age_band" and "age_band" in raw:
        raw["age_band"] = [f"{a}+" if b < 0 else f"{a}" if a == b else f"{a}-{b}"
                           for a, b in zip(raw["age_lo"], raw["age_hi"])]
    group, members = _group_members(store, extent, grouping, raw)
    raw = raw.assign(group=group.to_numpy())
    raw = raw[raw["group"].notna()]
    known = raw[raw["population"].notna()]
    if grouping == "extent" and known_ethnicity_only:
        raw = known
    totals = raw.groupby("group", sort=True)["count"].sum()
    sums = known.groupby("group", sort=True)[["count", "population"]].sum().reindex(totals.index)
    with_rate = sums["population"].fillna(0) > 0
    if grouping == "sex":  # counts by sex are shown even where no population by sex is held
        sums["count"] = totals
        with_rate = with_rate | True
    tag = f"period={period}" if period is not None else ""
    without = totals[~with_rate & (totals > 0)]
    sums = sums[with_rate]
    if grouping == "age_band":  # in age order
        sums = sums.loc[sorted(sums.index, key=lambda g: int(str(g).split("-")[0].rstrip("+")))]
    groups = list(sums.index)
    keys = [cell_key(name, members[g], grouping if grouping in ("ethnic_group", "age_band", "sex") else "",
                     g if grouping in ("ethnic_group", "age_band", "sex") else "", tag,
                     "known-ethnicity" if known_ethnicity_only else "") for g in groups]
    published, hide = publish_totals(sums["count"].to_numpy(float), keys, rule, secret)
    out = pd.DataFrame({"group": groups, "count": published})
    if supplied:
        den, den_hide = publish_totals(sums["population"].to_numpy(float), [k + "|denominator" for k in keys],
                                       rule, secret)
        out["population"] = den
        hide = hide | den_hide
        out["count"] = np.where(hide, np.nan, np.minimum(out["count"], den))
    else:
        out["population"] = sums["population"].to_numpy(float)
    out["suppressed"] = hide
    ok = ~hide & (out["population"].to_numpy(float) > 0)
    if definition.measure_type == "rate":
        out["person_years"] = out["population"] * years
        headline = _with_interval(out, ok, crude_rate, "person_years", "crude_rate", "crude", per, confidence)
        if standardise and len(out):
            bands = known.copy()
            bands["population"] = bands["population"] * years
            d = _dsr(name + (f"|{tag}" if tag else ""), bands, members, rule, secret, per, confidence, by_sex)
            out = out.merge(d, on="group", how="left")
            for column in ("dsr", "dsr_lower", "dsr_upper"):
                out.loc[out["suppressed"].to_numpy(bool), column] = np.nan
            headline = ("dsr", "dsr_lower", "dsr_upper")
    else:
        headline = _with_interval(out, ok, proportion, "population", "proportion", "proportion", per, confidence)
    if len(out):
        out["value"], out["lower"], out["upper"] = out[headline[0]], out[headline[1]], out[headline[2]]
    else:
        for column in ("value", "lower", "upper"):
            out[column] = pd.Series(dtype=float)
    out.attrs.update({
        "dataset": name, "measure": meta.get("measure"), "grouping": GROUPS[grouping], "per": per,
        "definition": definition.to_meta(), "unit": definition.unit, "headline": {"crude_rate": "crude rate", "proportion": definition.headline}.get(
            headline[0], "age-sex standardised rate" if by_sex else "age-standardised rate"),
        "value_column": headline[0], "years": years, "years_note": years_note,
        "synthetic": bool(meta.get("synthetic", False)), "higher_is_worse": polarity(meta),
        "denominator": definition.population_words + (" (supplied with the data)" if supplied else
                                                      " (ONS mid-2020 estimates by single year of age)"),
        "events_note": EVENTS_NOTE, "notes": notes, "disclosure": rule.describe(),
        "confidence": confidence})
    if len(without):
        wkeys = [cell_key(name, members[g], grouping, g, tag, "no-denominator") for g in without.index]
        shown, _ = publish_totals(without.to_numpy(float), wkeys, rule, secret)
        out.attrs["events_without_denominator"] = {str(g): (None if np.isnan(c) else float(c))
                                                   for g, c in zip(without.index, shown)}
    basis = out
    if headline[0] == "dsr" and len(out) == 5 and out["dsr"].isna().any() and out["crude_rate"].notna().all():
        # a DSR is not shown for a quintile (fewer than 10 events): the SII of the crude rates instead
        basis = out.drop(columns=["value", "lower", "upper"]).rename(
            columns={"crude_rate": "value", "crude_lower": "lower", "crude_upper": "upper"})
        basis.attrs = {**out.attrs, "value_column": "crude_rate"}
    if grouping.startswith("imd_quintile") and len(out) == 5 and basis["value"].notna().all():
        out.attrs.update(inequality(basis, definition, polarity(meta)))
    elif grouping.startswith("imd_quintile") and len(out):
        out.attrs["note"] = ("no SII: it needs a published value in all five quintiles"
                             + (f" ({int(hide.sum())} hidden by disclosure control)" if hide.any() else ""))
    return out


def practice_table(store, dataset, extent: Extent, confidence: float = 0.95) -> pd.DataFrame:
    """A GP-practice indicator by the IMD 2025 quintile of each practice's registered patients (the
    population-weighted IMD score of the LSOAs they live in, as Fingertips' practice profiles
    group practices): numerators and denominators summed over the practices of the quintile whose
    surgery is in the extent, each total published like every group total, the percentage (or
    rate) and its limits from those published totals, and the SII over the five quintiles."""
    from geo.store.datasets import DatasetStore

    meta = dataset.meta
    if meta.get("level") != "practice":
        raise GroupError(f"dataset {dataset.name!r} is not GP-practice data: group it by the LSOAs' quintiles")
    definition = definition_of(meta, False)
    practices = DatasetStore(store).get(dataset.name).practices()
    practices = pd.DataFrame(practices.drop(columns=["geometry"], errors="ignore"))
    if extent.level != "england":
        inside = set(store.lsoas(geometry=False, columns=["lsoa21cd"], **extent.filters())["lsoa21cd"])
        practices = practices[practices["lsoa21cd"].isin(inside)]
    practices = practices[practices["imd_quintile"].notna()]
    rule, secret = Rule.from_meta(meta), disclosure_key(store)
    groups = practices.groupby(practices["imd_quintile"].astype(int), sort=True)
    sums = groups[["numerator", "denominator"]].sum()
    members = {q: sorted(g["practice_code"].astype(str)) for q, g in groups}
    keys = [cell_key(dataset.name, members[q], "practice-quintile") for q in sums.index]
    count, hide = publish_totals(sums["numerator"].to_numpy(float), keys, rule, secret)
    den, den_hide = publish_totals(sums["denominator"].to_numpy(float), [k + "|denominator" for k in keys], rule,
                                   secret)
    hide = hide | den_hide
    out = pd.DataFrame({"group": sums.index.to_numpy(), "practices": groups.size().to_numpy(),
                        "count": np.where(hide, np.nan, np.minimum(count, den)), "population": den,
                        "suppressed": hide})
    ok = ~hide & (out["population"].to_numpy(float) > 0)
    is_proportion = definition.measure_type == "proportion"
    column = "proportion" if is_proportion else "crude_rate"
    names = _with_interval(out, ok, proportion if is_proportion else crude_rate, "population", column,
                           "proportion" if is_proportion else "crude", definition.multiplier, confidence)
    out["value"], out["lower"], out["upper"] = (out[n] for n in names)
    basis = (meta.get("practice_imd") or {}).get("quintile_basis", "quintiles of practices")
    out.attrs.update({
        "dataset": dataset.name, "measure": meta.get("measure"), "grouping": GROUPS["practice_imd_quintile"],
        "per": definition.multiplier, "definition": definition.to_meta(), "unit": definition.unit,
        "headline": definition.headline if definition.measure_type == "proportion" else "crude rate",
        "value_column": column, "years": 1.0, "years_note": "a snapshot of GP practice data",
        "synthetic": bool(meta.get("synthetic", False)), "higher_is_worse": polarity(meta),
        "denominator": definition.population_words + " (supplied per practice)", "events_note": EVENTS_NOTE,
        "notes": [f"Practices grouped by the population-weighted IMD 2025 score of their registered patients "
                  f"({basis}); {int(len(practices))} practices with a surgery in the extent"],
        "disclosure": rule.describe(), "confidence": confidence})
    if len(out) == 5 and out["value"].notna().all():
        out.attrs.update(inequality(out, definition, polarity(meta)))
    return out


def inequality(table: pd.DataFrame, definition: IndicatorDefinition, higher_is_worse: bool) -> dict:
    """SII (linear fit, PHE) and RII (log-linear fit for rates, logit for proportions, so that
    its limits stay in order and above 0), and the quintile 1 vs 5 gap, of the headline values."""
    value, lower, upper = (table[c].to_numpy(float) for c in ("value", "lower", "upper"))
    weights = table["population"].to_numpy(float)
    scale = definition.multiplier if definition.measure_type == "proportion" else 1
    v, lo, hi = value / scale, lower / scale, upper / scale
    value_type = 2 if definition.measure_type == "proportion" else 1
    usable = bool((lo > 0).all() and (value_type == 1 or (hi < 1).all()))
    kind = value_type if usable else 0
    s = gapmap_sii(weights, v, higher_is_worse, value_type=kind, lower_cl=lo, upper_cl=hi, repetitions=10_000)
    sii = {k: (val * scale if k.startswith("sii") else val) for k, val in s.items() if not k.startswith("intercept")}
    if usable:
        r = gapmap_sii(weights, v, higher_is_worse, value_type=value_type, lower_cl=lo, upper_cl=hi,
                       repetitions=10_000, transform=True)
        sii.update({k: val for k, val in r.items() if k.startswith("rii")})
        sii["rii_method"] = "log-linear fit (PHE)" if value_type == 1 else "logit fit (PHE)"
    else:
        sii["rii_method"] = "linear fit: a quintile's lower limit is 0, so no log-linear fit"
    sii["of"] = table.attrs.get("value_column", "value")  # the column: crude_rate, dsr or proportion
    sii["simulation"] = ("values simulated on the log scale (PHE)" if kind == 1 else
                         "values simulated on the logit scale (PHE)" if kind == 2 else
                         "a quintile has a lower limit of 0, so values were simulated on their own scale (normal)")
    sii["unit"] = definition.unit
    gap = gap_and_ratio(table.set_index("group")["value"], higher_is_worse)
    return {"sii": sii, "gap": gap}


__all__ = ["group_table", "cells", "definition_of", "years_of_data", "disclosure_key", "cell_key", "GROUPS",
           "GroupError", "inequality"]

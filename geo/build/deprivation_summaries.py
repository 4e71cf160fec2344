"""Deprivation summaries for larger areas, following MHCLG's definitions.

The English Indices of Deprivation publish summaries for local authority districts (IoD2019 and
IoD2025 File 10) and for health geographies (File 13). Sources for the definitions: McLennan et
al., *The English Indices of Deprivation 2019: Technical report* (MHCLG, 2019), Appendix N
"Summary measures for higher-level geographies", quoted in the ``IMD`` R package
(humaniverse/IMD, ``R/extent.R``); and MHCLG's (then DCLG's) description of the average-rank
measure on opendatacommunities.org: "For the purpose of calculation, LSOAs are ranked such that
the most deprived LSOA is given the rank of [N]. The LSOA ranks are population weighted within a
local authority district ... Finally the LADs are ranked according to the average rank ... where
1 is the most deprived." The IoD2025 research report keeps the same measures.

MHCLG's rank scale for these measures runs the other way to the LSOA table's: here an LSOA's
*summary rank* is ``N + 1 - imd_rank`` (N = 33,755 LSOAs in England), so the most deprived LSOA
counts as 33,755 and a HIGHER average rank or local concentration means MORE deprived (as in
File 10, e.g. Hartlepool 2025: average rank 23,076, local concentration 33,623).

``average_score``
    population-weighted mean of the LSOAs' IMD scores (higher is more deprived).
``average_rank``
    population-weighted mean of the LSOAs' summary ranks (N + 1 - national rank; higher is more
    deprived).
``proportion_most_deprived_10pc``
    share of the area's LSOAs in the most deprived 10% nationally (national decile 1);
    not population-weighted.
``extent``
    share of the area's population living in the most deprived 30% of LSOAs nationally, with
    Appendix N's weights: 1 for LSOAs in the most deprived 10% (national percentiles 1-10); a
    sliding weight from 0.95 at the 11th percentile down by (0.95 - 0.05) / 19 per percentile to
    0.05 at the 30th, i.e. ``0.95 - (p - 11) * 0.9 / 19`` for percentile p in 11..30; 0 from the
    31st. An LSOA's percentile is ``ceil(100 * rank / N)`` (the most deprived p% of LSOAs).
``local_concentration``
    population-weighted mean summary rank (N + 1 - national rank) of the area's most deprived
    LSOAs that together hold exactly 10% of its population (the last LSOA counted in part);
    higher is more deprived.

The same five measures are made for each of the seven domains, as File 10 and File 13 give them
on a sheet per domain: from the domain's own score, national rank and decile
(``<domain>_score``, ``<domain>_rank``, ``<domain>_decile``), written with the domain as prefix
(``income_average_score``, ..., ``living_environment_local_concentration``, and
``rank_income_average_score`` ...); the IMD's keep their unprefixed names. ``DOMAIN_MEASURES``
lists the domains (:func:`summarise` with ``domain``; :func:`summarise_all` for the IMD and all
seven at once).

Each measure also gets a rank among the areas summarised together (``rank_<measure>``,
1 = most deprived). The population is whatever ``population`` column the caller passes; the build
passes the one :func:`summary_population` picks: MHCLG's own denominators, File 7's
``Total population: mid 2022``, when the build's File 7 carries them for every LSOA (the official
File 7 does), else Census 2021 usual residents (the reference copy of File 7 omits the
denominators), with which the figures are close to, not identical with, MHCLG's: see
``bench/bench_deprivation_denominators.py`` for how far the choice of denominator moves each
measure. The build writes which one weighted a summary in its ``population_weights`` column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.store.schema import DOMAINS

MEASURES = {  # measure -> True when a higher value is more deprived (all of them, on MHCLG's scale)
    "average_score": True,
    "average_rank": True,
    "proportion_most_deprived_10pc": True,
    "extent": True,
    "local_concentration": True,
}


DOMAIN_MEASURES = ("imd", *DOMAINS)  # what an area can be summarised on: the IMD and its seven domains


def measure_columns(domain: str = "imd") -> list[str]:
    """The summary columns of ``domain`` (the IMD's unprefixed, a domain's prefixed by its name)."""
    if domain not in DOMAIN_MEASURES:
        raise ValueError(f"unknown deprivation domain {domain!r}; choose one of {', '.join(DOMAIN_MEASURES)}")
    prefix = "" if domain == "imd" else f"{domain}_"
    return [f"{prefix}{m}" for m in MEASURES] + [f"rank_{prefix}{m}" for m in MEASURES]


FILE7_WEIGHTS = "File 7 mid-2022 denominators"
CENSUS_WEIGHTS = "Census 2021 usual residents (File 7's denominators absent)"
FILE7_POPULATION = "file7_population_mid2022"  # File 7's 'Total population: mid 2022', when read
CENSUS_POPULATION = "residents"


def summary_population(lsoas: pd.DataFrame) -> tuple[str, str]:
    """(column, label) of the population to weight the summaries by: File 7's mid-2022 denominators
    (``file7_population_mid2022``) when every LSOA has one, else Census 2021 usual residents
    (``residents``), labelled :data:`FILE7_WEIGHTS` or :data:`CENSUS_WEIGHTS` (or saying how many
    LSOAs lack File 7's denominator, when some do)."""
    if FILE7_POPULATION not in lsoas.columns:
        return CENSUS_POPULATION, CENSUS_WEIGHTS
    lacking = int(lsoas[FILE7_POPULATION].isna().sum())
    if lacking:
        return CENSUS_POPULATION, (f"Census 2021 usual residents (File 7's denominators incomplete: "
                                   f"{lacking:,} LSOAs lack one)")
    return FILE7_POPULATION, FILE7_WEIGHTS


def percentile(rank: pd.Series, n_areas: int) -> pd.Series:
    """National percentile of deprivation of each LSOA: 1 = the most deprived 1% of LSOAs."""
    return pd.Series(np.ceil(100.0 * rank.astype("float64") / n_areas), index=rank.index)


def extent_weight(rank: pd.Series, n_areas: int) -> pd.Series:
    """Appendix N's weight of an LSOA in ``extent``: 1 in the most deprived 10%, then from 0.95 at
    the 11th percentile to 0.05 at the 30th in equal steps of 0.9 / 19, 0 beyond."""
    p = percentile(rank, n_areas).to_numpy()
    weight = np.where(p <= 10, 1.0, np.where(p <= 30, 0.95 - (p - 11) * 0.9 / 19, 0.0))
    return pd.Series(weight, index=rank.index)


def summary_rank(rank: pd.Series, n_areas: int) -> pd.Series:
    """MHCLG's rank for summary measures: the most deprived LSOA counts as ``n_areas``."""
    return n_areas + 1 - rank.astype("float64")


def _local_concentration(ranks: np.ndarray, pops: np.ndarray) -> float:
    """``ranks`` on MHCLG's summary scale (higher = more deprived)."""
    order = np.argsort(-ranks, kind="stable")
    ranks, pops = ranks[order], pops[order]
    target = 0.10 * pops.sum()
    if target <= 0:
        return float("nan")
    before = np.concatenate([[0.0], np.cumsum(pops)[:-1]])
    counted = np.clip(target - before, 0.0, pops)
    return float((ranks * counted).sum() / counted.sum())


def summarise(lsoas: pd.DataFrame, by: str, population: str = "population",
              n_national: int | None = None, domain: str = "imd") -> pd.DataFrame:
    """Summary measures per value of ``by``, of the IMD or of one of its domains.

    ``lsoas`` needs ``<domain>_score``, ``<domain>_rank``, ``<domain>_decile`` and ``population``.
    ``n_national`` is the number of LSOAs ranked nationally (defaults to the largest rank present).
    A domain's measures are prefixed by its name (see the module docstring).
    """
    measure_columns(domain)  # a known domain
    score, rank, decile = f"{domain}_score", f"{domain}_rank", f"{domain}_decile"
    frame = lsoas[[by, score, rank, decile, population]].dropna(subset=[by]).copy()
    frame = frame.rename(columns={score: "imd_score", rank: "imd_rank", decile: "imd_decile"})
    n = int(n_national or frame["imd_rank"].max())
    pop = frame[population].astype("float64")
    frame["_pop"] = pop
    frame["_ws"] = pop * frame["imd_score"].astype("float64")
    frame["_summary_rank"] = summary_rank(frame["imd_rank"], n)
    frame["_wr"] = pop * frame["_summary_rank"]
    frame["_ext"] = pop * extent_weight(frame["imd_rank"], n)
    frame["_d1"] = (frame["imd_decile"] == 1).astype("float64")
    grouped = frame.groupby(by, sort=True)
    out = pd.DataFrame({
        "lsoas": grouped.size(),
        "population": grouped["_pop"].sum(),
    })
    out["average_score"] = grouped["_ws"].sum() / out["population"]
    out["average_rank"] = grouped["_wr"].sum() / out["population"]
    out["proportion_most_deprived_10pc"] = grouped["_d1"].mean()
    out["extent"] = grouped["_ext"].sum() / out["population"]
    out["local_concentration"] = grouped[["_summary_rank", "_pop"]].apply(
        lambda g: _local_concentration(g["_summary_rank"].to_numpy("float64"), g["_pop"].to_numpy("float64")))
    for measure, higher_is_worse in MEASURES.items():
        out[f"rank_{measure}"] = out[measure].rank(method="min", ascending=not higher_is_worse).astype("Int64")
    out.index.name = by
    if domain != "imd":
        out = out.rename(columns={c: (f"rank_{domain}_{c[5:]}" if c.startswith("rank_") else f"{domain}_{c}")
                                  for c in out.columns if c not in ("lsoas", "population")})
    return out.reset_index()


def summarise_all(lsoas: pd.DataFrame, by: str, population: str = "population") -> pd.DataFrame:
    """The IMD's summary measures and each domain's (prefixed), per value of ``by``; each measure
    on its own national ranking (its largest rank in ``lsoas``, so pass every LSOA of England)."""
    out = summarise(lsoas, by, population)
    for domain in DOMAINS:
        if f"{domain}_rank" not in lsoas.columns:
            continue
        n = int(lsoas[f"{domain}_rank"].max())
        out = out.merge(summarise(lsoas, by, population, n, domain).drop(columns=["lsoas", "population"]),
                        on=by, how="left")
    return out

"""Deprivation summaries for larger areas, following MHCLG's definitions.

The English Indices of Deprivation publish summaries for local authority districts (IoD2019
File 10, IoD2025 File 10) and for health geographies (File 13). Each summarises the LSOAs in
an area, weighting by population where the definition says so:

``average_score``
    population-weighted mean of the LSOAs' IMD scores.
``average_rank``
    population-weighted mean of the LSOAs' national IMD ranks (1 = most deprived).
``proportion_most_deprived_10pc``
    share of the area's LSOAs in the most deprived 10% nationally (national decile 1);
    not population-weighted.
``extent``
    share of the area's population living in the most deprived 30% of LSOAs nationally, with
    a sliding weight: 1 for LSOAs in the most deprived 10% (national percentiles 1-10), then
    falling by 0.05 per percentile, (30 - p) / 20 for percentile p in 11..29, and 0 from
    percentile 30. An LSOA's percentile is ``ceil(100 * rank / N)``.
``local_concentration``
    population-weighted mean national rank of the area's most deprived LSOAs that together hold
    exactly 10% of its population (the last LSOA counted in part).

Each measure also gets a rank among the areas summarised together (``rank_<measure>``,
1 = most deprived). The population is whatever ``population`` column the caller passes; Gapmap
uses Census 2021 usual residents (MHCLG used its own mid-year denominators, which the reference
copy of File 7 omits), so the figures are close to, not identical with, MHCLG's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MEASURES = {  # measure -> True when a higher value is more deprived
    "average_score": True,
    "average_rank": False,
    "proportion_most_deprived_10pc": True,
    "extent": True,
    "local_concentration": False,
}


def extent_weight(rank: pd.Series, n_areas: int) -> pd.Series:
    percentile = np.ceil(100.0 * rank.astype("float64") / n_areas)
    weight = np.where(percentile <= 10, 1.0, np.where(percentile < 30, (30.0 - percentile) / 20.0, 0.0))
    return pd.Series(weight, index=rank.index)


def _local_concentration(ranks: np.ndarray, pops: np.ndarray) -> float:
    order = np.argsort(ranks, kind="stable")
    ranks, pops = ranks[order], pops[order]
    target = 0.10 * pops.sum()
    if target <= 0:
        return float("nan")
    before = np.concatenate([[0.0], np.cumsum(pops)[:-1]])
    counted = np.clip(target - before, 0.0, pops)
    return float((ranks * counted).sum() / counted.sum())


def summarise(lsoas: pd.DataFrame, by: str, population: str = "population",
              n_national: int | None = None) -> pd.DataFrame:
    """Summary measures per value of ``by``.

    ``lsoas`` needs ``imd_score``, ``imd_rank``, ``imd_decile`` and ``population``. ``n_national``
    is the number of LSOAs ranked nationally (defaults to the largest rank present).
    """
    frame = lsoas[[by, "imd_score", "imd_rank", "imd_decile", population]].dropna(subset=[by]).copy()
    n = int(n_national or frame["imd_rank"].max())
    pop = frame[population].astype("float64")
    frame["_pop"] = pop
    frame["_ws"] = pop * frame["imd_score"].astype("float64")
    frame["_wr"] = pop * frame["imd_rank"].astype("float64")
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
    out["local_concentration"] = grouped[["imd_rank", "_pop"]].apply(
        lambda g: _local_concentration(g["imd_rank"].to_numpy("float64"), g["_pop"].to_numpy("float64")))
    for measure, higher_is_worse in MEASURES.items():
        out[f"rank_{measure}"] = out[measure].rank(method="min", ascending=not higher_is_worse).astype("Int64")
    out.index.name = by
    return out.reset_index()

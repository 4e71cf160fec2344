"""Carry LSOA 2011 figures onto LSOA 2021 codes through ONS's exact-fit lookup.

The lookup's change indicator ``CHGIND`` says how each 2011 LSOA became 2021 LSOAs:
``U`` unchanged, ``S`` split into several, ``M`` merged with others, ``X`` irregular (a
many-to-many redrawing). Gapmap treats them so:

* **counts** (populations): a 2011 LSOA that maps to one 2021 LSOA gives it all of its count;
  one that maps to several (splits, irregular changes) shares its count among them in
  proportion to their Census 2021 usual residents. Counts landing on the same 2021 LSOA are
  summed (merges). Totals are preserved exactly.
* **counts by age**: the same, but each age is shared by the Census 2021 residents *of its own
  age group* in the parts (:func:`group_weights`), so where a split LSOA's children live mostly
  in one part, its children go mostly to that part (the all-age share would give every part the
  same age mix, which moves ward DSRs by up to 31%). Where no part has residents of the group,
  the all-age share is used.
* **ranks** (IMD 2019): a 2021 LSOA with one 2011 parent inherits its rank and decile (splits
  and unchanged areas); one with several parents (merges, irregular changes) takes the mean of
  their ranks weighted by the population each parent gives it (IoD2019's mid-2015 population,
  shared as for counts), and a decile from that mean rank against the 2019 decile cut-offs.
  Every 2021 LSOA carries the change kind so that irregular ones can be flagged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CHANGE_KINDS = {"U": "unchanged", "S": "split", "M": "merged", "X": "irregular"}


def lookup_weights(lookup: pd.DataFrame, residents21: pd.Series | None = None) -> pd.DataFrame:
    """Rows of (lsoa11cd, lsoa21cd, chgind, weight): the share of each 2011 LSOA in each 2021 LSOA.

    ``residents21`` is indexed by LSOA 2021 code; where it is missing or zero for all of a 2011
    LSOA's targets the share is equal.
    """
    rows = lookup[["lsoa11cd", "lsoa21cd", "chgind"]].drop_duplicates(["lsoa11cd", "lsoa21cd"]).copy()
    if residents21 is None:
        size = pd.Series(1.0, index=rows.index)
    else:
        size = rows["lsoa21cd"].map(residents21).astype("float64").fillna(0.0)
    targets = rows.groupby("lsoa11cd")["lsoa21cd"].transform("size").astype("float64")
    total = size.groupby(rows["lsoa11cd"]).transform("sum")
    share = np.where(total > 0, size / total.where(total > 0, 1.0), 1.0 / targets)
    rows["weight"] = np.where(targets == 1, 1.0, share)
    return rows.reset_index(drop=True)


def group_weights(weights: pd.DataFrame, residents21: pd.DataFrame) -> pd.DataFrame:
    """``weights`` with a share column ``weight_<group>`` for each column of ``residents21``.

    ``residents21`` is indexed by LSOA 2021 code with one column per group (Census 2021 usual
    residents by age group, say). ``weight_<group>`` is the share of a 2011 LSOA's people of that
    group who live in each of its 2021 LSOAs: 1 where the 2011 LSOA has one 2021 LSOA, else the
    part's residents of the group over all its parts' residents of the group; where none of the
    parts has residents of the group, the all-age ``weight``. Each 2011 LSOA's shares of a group
    sum to 1, so totals are preserved.
    """
    out = weights.copy()
    targets = out.groupby("lsoa11cd")["lsoa21cd"].transform("size").to_numpy()
    for group in residents21.columns:
        size = out["lsoa21cd"].map(residents21[group]).astype("float64").fillna(0.0)
        total = size.groupby(out["lsoa11cd"]).transform("sum")
        share = np.where(total > 0, size / total.where(total > 0, 1.0), out["weight"].to_numpy())
        out[f"weight_{group}"] = np.where(targets == 1, 1.0, share)
    return out


def carry_counts(counts11: pd.DataFrame, weights: pd.DataFrame, value_columns: list[str],
                 weight_of: dict[str, str] | None = None) -> pd.DataFrame:
    """Sum of weighted 2011 counts per 2021 LSOA; 2011 codes missing from the lookup are dropped
    and returned in the frame's ``attrs['unmatched']``.

    ``weight_of`` names the weight column that shares a value column (e.g. ``weight_0_15`` from
    :func:`group_weights` for the count of 3-year-olds); the others are shared by ``weight``.
    """
    merged = counts11.merge(weights, on="lsoa11cd", how="inner")
    weight_of = weight_of or {}
    values = pd.DataFrame({c: merged[c].astype("float64") * merged[weight_of.get(c, "weight")]
                           for c in value_columns}, index=merged.index)
    values["lsoa21cd"] = merged["lsoa21cd"]
    out = values.groupby("lsoa21cd", sort=True)[value_columns].sum()
    unmatched = sorted(set(counts11["lsoa11cd"]) - set(weights["lsoa11cd"]))
    out.attrs["unmatched"] = unmatched
    return out


def decile_from_rank(rank: pd.Series, n_areas: int) -> pd.Series:
    """MHCLG decile (1 = most deprived 10%) of a rank among ``n_areas`` areas."""
    return pd.Series(np.clip(np.ceil(rank.astype("float64") * 10.0 / n_areas), 1, 10),
                     index=rank.index).astype("Int64")


def carry_ranks(ranks11: pd.DataFrame, population11: pd.Series, weights: pd.DataFrame,
                rank_column: str, decile_column: str) -> pd.DataFrame:
    """IMD rank and decile on 2021 codes, with the change kind and the number of 2011 parents.

    ``ranks11`` has ``lsoa11cd``, ``rank_column`` and ``decile_column``; ``population11`` is
    indexed by LSOA 2011 code.
    """
    n_areas = int(ranks11[rank_column].notna().sum())
    merged = weights.merge(ranks11, on="lsoa11cd", how="inner")
    pop = merged["lsoa11cd"].map(population11).astype("float64")
    merged["w"] = merged["weight"] * pop.fillna(0.0)
    merged["wr"] = merged["w"] * merged[rank_column].astype("float64")
    grouped = merged.groupby("lsoa21cd", sort=True)
    out = pd.DataFrame({
        "parents": grouped["lsoa11cd"].nunique(),
        "w": grouped["w"].sum(),
        "wr": grouped["wr"].sum(),
        "first_rank": grouped[rank_column].first(),
        "first_decile": grouped[decile_column].first(),
        "kinds": grouped["chgind"].agg(lambda s: "".join(sorted(set(s)))),
    })
    single = out["parents"] == 1
    mean_rank = (out["wr"] / out["w"].where(out["w"] > 0)).fillna(out["first_rank"])
    rank = np.where(single, out["first_rank"].astype("float64"), mean_rank)
    result = pd.DataFrame(index=out.index)
    result[rank_column] = rank
    result[decile_column] = np.where(single, out["first_decile"].astype("float64"),
                                     decile_from_rank(pd.Series(rank, index=out.index), n_areas).astype("float64"))
    result[decile_column] = result[decile_column].astype("Int64")
    kind = out["kinds"].map(lambda k: "X" if "X" in k else ("M" if "M" in k else k[:1]))
    result["change"] = kind.map(CHANGE_KINDS)
    result["parents"] = out["parents"].astype("int64")
    return result

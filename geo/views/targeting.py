"""Where to act: the side-panel summary of a map and the targeting list of schools and wards.

An LSOA is a *target* when it is in a Gi* hot spot (95% confidence or more, two-sided), in a High-High
local Moran cluster, or in Core20 (national IMD deciles 1-2). The targeting list names the
schools that stand in target LSOAs and the wards that contain any, each row saying why.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.views import analysis


def lsoa_targets(store, indicator: str, extent: analysis.Extent) -> pd.DataFrame:
    """Per LSOA (indexed by code), from the map table (:mod:`geo.views.map_table`, disclosure applied):
    value, Core20, hot-spot bin and words, cluster, and ``reasons`` (a readable list). Suppressed
    LSOAs have no value, so no hot spot or cluster: only Core20 can make them targets."""
    from geo.views.map_table import map_table

    frame = map_table(store, indicator, extent).frame.set_index("lsoa21cd")
    has_value = frame["value"].notna()
    frame["hot_bin"] = frame["gi_bin"].where(has_value) if "gi_bin" in frame else np.nan
    frame["hot_spot"] = frame["gi_spot"].where(has_value) if "gi_spot" in frame else None
    frame["cluster"] = frame["lisa_cluster"].where(has_value) if "lisa_cluster" in frame else None
    reasons = []
    for row in frame.itertuples():
        why = []
        if row.hot_bin >= 2:
            why.append(row.hot_spot.lower())
        if row.cluster == "High-High":
            why.append("High-High cluster")
        if bool(row.core20):
            why.append("Core20 (national IMD decile 1-2)")
        reasons.append("; ".join(why))
    frame["reasons"] = reasons
    return frame


def summary(targets: pd.DataFrame) -> dict:
    return {
        "lsoas": int(len(targets)),
        "core20": int(targets["core20"].fillna(False).astype(bool).sum()),
        "high_high": int((targets["cluster"] == "High-High").sum()),
        "hot_spots": int((targets["hot_bin"] >= 2).sum()),
        "targets": int((targets["reasons"] != "").sum()),
    }


def by_quintile(targets: pd.DataFrame, store=None, indicator: str | None = None,
                extent: analysis.Extent | None = None) -> pd.DataFrame:
    """Mean value over the LSOAs with a (published) value by national IMD quintile and, for
    datasets (given ``store``, ``indicator`` and ``extent``), the pooled rate per 1,000 from
    :func:`geo.views.map_table.group_table` (published group values in the indicator's unit)."""
    rows = []
    for q, g in targets.groupby("imd_quintile", sort=True):
        values = g["value"].dropna()
        rows.append({"quintile": int(q), "lsoas": int(len(g)),
                     "mean_value": float(values.mean()) if len(values) else float("nan")})
    out = pd.DataFrame(rows)
    if "count" in targets and store is not None and len(out):
        from geo.views.map_table import group_table

        groups = group_table(store, indicator, extent, "imd_quintile")
        if len(groups):  # the published group value, in the indicator's own unit (attrs["unit"])
            out["rate"] = out["quintile"].map(groups.set_index("group")["value"])
            out.attrs["unit"] = groups.attrs.get("unit")
    return out


def top_wards(targets: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Wards by the mean of their LSOAs' published values (suppressed LSOAs left out)."""
    grouped = targets.groupby(["ward24cd", "ward24nm"], sort=False).agg(
        lsoas=("value", "size"), mean_value=("value", "mean"),
        target_lsoas=("reasons", lambda r: int((r != "").sum()))).reset_index()
    ranked = grouped[grouped["mean_value"].notna()]  # a ward whose every LSOA is hidden is not ranked
    return ranked.sort_values(["mean_value"], ascending=False).head(n)


def targeting_list(store, targets: pd.DataFrame) -> pd.DataFrame:
    """Schools in target LSOAs and wards with target LSOAs, one row each, with the reason."""
    hit = targets[targets["reasons"] != ""]
    rows = []
    if len(hit):
        schools = store.points("schools")
        schools = schools[schools["lsoa21cd"].isin(set(hit.index))]
        for s in schools.itertuples():
            t = hit.loc[s.lsoa21cd]
            rows.append({"kind": "school", "code": str(s.urn), "name": s.name, "ward": t["ward24nm"],
                         "lsoa21cd": s.lsoa21cd, "phase": s.phase,
                         "pupils": None if pd.isna(s.pupils) else int(s.pupils),
                         "fsm_percent": None if pd.isna(s.fsm_percent) else float(s.fsm_percent),
                         "why": f"in LSOA {s.lsoa21cd} ({t['lsoa21nm']}): {t['reasons']}"})
        for (ward, name), g in hit.groupby(["ward24cd", "ward24nm"], sort=True):
            rows.append({"kind": "ward", "code": ward, "name": name, "ward": name, "lsoa21cd": ", ".join(g.index),
                         "phase": None, "pupils": None, "fsm_percent": None,
                         "why": f"{len(g)} of its LSOAs: " + "; ".join(sorted({r for rs in g['reasons']
                                                                              for r in rs.split('; ')}))})
    return pd.DataFrame(rows, columns=["kind", "code", "name", "ward", "lsoa21cd", "phase", "pupils",
                                       "fsm_percent", "why"])

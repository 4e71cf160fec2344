"""How far the population denominator moves MHCLG's File 10/13 summary measures (issue 9).

Run by hand, after `gapmap data build`:  python bench/bench_deprivation_denominators.py

MHCLG weight by their own mid-year population denominators, which the reference copy of IoD2025
File 7 omits, and the published File 10/13 values are not in the data mirror; so Gapmap's
figures (weighted by Census 2021 usual residents) cannot be checked value by value. Instead this
measures, per measure and per level (LAD, ICB), how much the choice of denominator can move them:
the same measures weighted by the ONS mid-2020 estimates instead of Census 2021 residents (two
official populations a year apart). A difference between Gapmap and MHCLG within that spread is
what the denominator explains; a larger one (as the old extent weights and rank scale gave) is a
method difference. The old method (extent weights (30 - p) / 20 falling to 0 at the 30th
percentile; ranks on the LSOA scale, 1 = most deprived) is recomputed here for comparison.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.build.deprivation_summaries import MEASURES, summarise
from geo.store.folder import Store

LEVELS = {"lad": "lad24cd", "icb": "icb24cd"}


def old_method(lsoas: pd.DataFrame, by: str, population: str, n: int) -> pd.DataFrame:
    """The summaries as Gapmap computed them before issue 9 (for the comparison only)."""
    frame = lsoas[[by, "imd_rank", population]].copy()
    p = np.ceil(100.0 * frame["imd_rank"] / n)
    frame["w"] = np.where(p <= 10, 1.0, np.where(p < 30, (30.0 - p) / 20.0, 0.0))
    pop = frame[population].astype(float)
    g = frame.assign(e=pop * frame["w"], r=pop * frame["imd_rank"], p=pop).groupby(by)
    return pd.DataFrame({"extent": g["e"].sum() / g["p"].sum(), "average_rank": g["r"].sum() / g["p"].sum()})


def main() -> None:
    store = Store()
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "lad24cd", "icb24cd", "imd_score", "imd_rank",
                                                 "imd_decile", "residents", "population_mid2020"])
    n = int(lsoas["imd_rank"].max())
    print(f"{len(lsoas):,} LSOAs, N = {n:,}\n")
    for level, by in LEVELS.items():
        census = summarise(lsoas, by, "residents", n).set_index(by)
        mid2020 = summarise(lsoas, by, "population_mid2020", n).set_index(by)
        print(f"== {level.upper()} ({len(census)} areas): Census 2021 residents vs ONS mid-2020 as denominator")
        print(f"{'measure':32s} {'median |rel diff|':>18s} {'max |rel diff|':>15s} {'areas whose rank moves':>23s}")
        for measure in MEASURES:
            a, b = census[measure], mid2020[measure]
            rel = ((a - b).abs() / b.abs().where(b != 0)).dropna()
            moved = (census[f"rank_{measure}"] != mid2020[f"rank_{measure}"]).mean()
            print(f"{measure:32s} {rel.median():18.3%} {rel.max():15.3%} {moved:23.0%}")
        old = old_method(lsoas, by, "residents", n)
        ext_old, ext_new = old["extent"], census["extent"]
        nonzero = ext_new > 0
        rel = ((ext_old - ext_new) / ext_new)[nonzero]
        spread = ((census["extent"] - mid2020["extent"]).abs() / mid2020["extent"])[nonzero]
        print(f"old extent weights: lower than Appendix N's in {(ext_old < ext_new)[nonzero].mean():.0%} of areas "
              f"with any extent; median {rel.median():.2%}, worst {rel.min():.2%} "
              f"(the denominator moves extent by a median {spread.median():.2%}); extent ranks differ for "
              f"{(ext_old.rank(method='min', ascending=False) != census['rank_extent']).mean():.0%} of areas")
        old_rank = old["average_rank"]
        print(f"old average rank scale: e.g. {old_rank.iloc[0]:,.0f} shown against {census['average_rank'].iloc[0]:,.0f} "
              f"on MHCLG's scale (N + 1 minus it: {n + 1 - old_rank.iloc[0]:,.0f})\n")
    hartlepool = summarise(lsoas, "lad24cd", "residents", n).set_index("lad24cd").loc["E06000001"]
    print("Hartlepool (MHCLG File 10, IoD2025: average rank 23,076, local concentration 33,623):")
    for measure in ("average_rank", "local_concentration"):
        print(f"  {measure}: {hartlepool[measure]:,.1f}")


if __name__ == "__main__":
    main()

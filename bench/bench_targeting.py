"""Benchmark: one targeting question over all of England (every point type), by the targeting
engine against the bare join it does, in the same run.

Run by hand (not in CI):

    GAPMAP_STORE=/tmp/final-eng python bench/bench_targeting.py [--repeat 5] [--question core20]

* Gapmap: :func:`geo.views.targeting.answer` (the group expression read and evaluated, schools by
  GIAS type, GP practices, hospitals and wards, each row's reasons in words), the store's tables
  already read once (as in a warm server);
* peer: the pandas join alone, without words: the schools, GP practices and hospitals standing in
  Core20 LSOAs and the wards counting them (``isin`` and one ``groupby``), from the same tables.

Prints medians of the repeats, the ratio Gapmap / peer, and checks both list the same places.
"""
from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--question", default="core20")
    args = parser.parse_args()
    from geo.store import open_store
    from geo.views import map_table, targeting
    from geo.views.analysis import Extent

    store = map_table.pinned(open_store())
    extent = Extent()
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "ward24cd", "imd_decile"])
    points = {kind: store.points(kind) for kind in ("schools", "gp_practices", "hospitals")}
    targeting.answer(store, extent, args.question, "all")  # once, so both read warm tables

    def peer():
        hit = set(lsoas.loc[lsoas["imd_decile"] <= 2, "lsoa21cd"])
        rows = sum(int(p["lsoa21cd"].isin(hit).sum()) for p in points.values())
        return rows + int(lsoas[lsoas["lsoa21cd"].isin(hit)].groupby("ward24cd").size().shape[0])

    timings = {"gapmap": [], "peer": []}
    for _ in range(args.repeat):
        t = time.perf_counter()
        listed = targeting.answer(store, extent, args.question, "all")
        timings["gapmap"].append(time.perf_counter() - t)
        t = time.perf_counter()
        expected = peer()
        timings["peer"].append(time.perf_counter() - t)
    if args.question == "core20":
        assert len(listed) == expected, (len(listed), expected)
    g, p = statistics.median(timings["gapmap"]), statistics.median(timings["peer"])
    print(f"England, '{args.question}', every point type: {len(listed):,} rows, {args.repeat} repeats, medians")
    print(f"  Gapmap targeting.answer   {g:.3f} s")
    print(f"  peer: pandas join alone   {p:.3f} s")
    print(f"  Gapmap / peer             {g / p:.1f}x")


if __name__ == "__main__":
    main()

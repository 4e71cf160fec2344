"""Benchmark: England's queen weights at query time, read from the store (kept by `gapmap data
build`) against finding them in the polygons, by Gapmap and by libpysal, in the same run.

Run by hand (not in CI), on a store built by this version (it holds lsoa_centroids and weights_queen):

    GAPMAP_STORE=/tmp/light-store python bench/bench_weights.py [--repeat 5]

Each measurement runs in a fresh process (as the first statistic of a new server or CLI call
pays it), in turn, one of each per round; the time is taken inside the process from the call
(imports excluded: pandas, pyarrow, scipy, shapely, geopandas and libpysal are imported first), for England and for one ICB (BLMK):

* stored: :func:`geo.views.extent_weights.for_extent` (reads the two tables, subsets by code);
* from polygons: reading the extent's polygons and :func:`geo.stats.weights.build` (what every
  new process did before, and still does for a build without the tables);
* peer: ``libpysal.weights.Queen.from_dataframe`` of the same polygons (read time included, as
  for Gapmap's "from polygons").

Prints medians and ratios (stored / each other) and checks that all three give the same links.
"""
from __future__ import annotations

import argparse
import json
import statistics

from harness import run_python

STORED = """
import json, sys, time
import pandas, pyarrow.parquet, scipy.sparse, shapely, geopandas  # imports are not what is measured
from geo.store.folder import Store
from geo.views import extent_weights
level, code = sys.argv[1], (sys.argv[2] or None)
store = Store()
t = time.perf_counter()
w = extent_weights.for_extent(store, level, code)
seconds = time.perf_counter() - t
assert store.queen_links() is not None, "this store has no stored weights: rebuild it with this version"
print(json.dumps({"seconds": seconds, "links": int(w.neighbours.nnz), "n": w.n}))
"""

POLYGONS = """
import json, sys, time
import pandas, pyarrow.parquet, scipy.sparse, shapely, geopandas  # imports are not what is measured
from geo.store.folder import Store
from geo.stats.weights import build
level, code = sys.argv[1], (sys.argv[2] or None)
store = Store()
t = time.perf_counter()
lsoas = store.lsoas(columns=["lsoa21cd"], **({} if level == "england" else {level: code}))
w = build(lsoas.sort_values("lsoa21cd").reset_index(drop=True), "queen")
print(json.dumps({"seconds": time.perf_counter() - t, "links": int(w.neighbours.nnz), "n": w.n}))
"""

LIBPYSAL = """
import json, sys, time
import pandas, pyarrow.parquet, scipy.sparse, shapely, geopandas  # imports are not what is measured
from geo.store.folder import Store
import libpysal
level, code = sys.argv[1], (sys.argv[2] or None)
store = Store()
t = time.perf_counter()
lsoas = store.lsoas(columns=["lsoa21cd"], **({} if level == "england" else {level: code}))
w = libpysal.weights.Queen.from_dataframe(lsoas, ids=list(lsoas["lsoa21cd"]), silence_warnings=True)
seconds = time.perf_counter() - t
links = sum(len(v) for v in w.neighbors.values())
print(json.dumps({"seconds": seconds, "links": links, "n": w.n, "islands": len(w.islands)}))
"""

EXTENTS = {"England": ("england", ""), "BLMK ICB": ("icb", "E54000024")}
WAYS = {"stored": STORED, "from polygons (Gapmap)": POLYGONS, "peer: libpysal Queen": LIBPYSAL}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for extent, (level, code) in EXTENTS.items():
        runs: dict[str, list[dict]] = {name: [] for name in WAYS}
        for _ in range(args.repeat):
            for name, script in WAYS.items():
                runs[name].append(json.loads(run_python(script, level, code)[2]))
        med = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
        first = {name: rs[0] for name, rs in runs.items()}
        print(f"{extent}: {first['stored']['n']:,} LSOAs")
        for name in WAYS:
            print(f"  {name:<24} median {med[name] * 1000:9.1f} ms  (links {first[name]['links']:,}"
                  + (f", {first[name]['islands']} islands not joined" if "islands" in first[name] else "") + ")")
        for name in list(WAYS)[1:]:
            print(f"  stored / {name:<24} {med['stored'] / med[name]:.4f}x ({med[name] / med['stored']:.0f} times faster)")


if __name__ == "__main__":
    main()

"""Benchmark: weights + local Moran + Gi* + bivariate local Moran, all English LSOAs, 999 permutations.

Run by hand (not in CI), after `gapmap data build`:

    python bench/bench_statistics.py [--repeat 3] [--extent england|lad:E06000032]

Each run is a fresh process that reads the LSOA polygons, IMD score and acute morbidity from the
store and then times, step by step:

* gapmap: geo.stats.weights (queen) + local_moran + getis_ord (permutation inference) + bivariate_moran;
* pygeoda (GeoDa's library) with its fastest permutation method ('lookup-table'), 2 CPU threads
  on this 2-core machine: open + queen_weights + local_moran + local_gstar + local_bimoran;
* plain esda, n_jobs=1: Queen.from_dataframe + Moran_Local + G_Local(star=True) + Moran_Local_BV
  (numba's first-call compilation included, as a fresh process pays it).

Prints the median of each step and of the total (weights + statistics, after the data is in
memory), the peak resident memory of the process, and the ratios against gapmap.
"""
from __future__ import annotations

import argparse
import json
import time

from harness import ROOT, median, run_python

LOAD = """
import sys, time, json
from geo.store.folder import Store
extent = sys.argv[1]
level, _, code = extent.partition(":")
kw = {} if level == "england" else {level: code}
g = Store().lsoas(columns=["lsoa21cd", "imd_score", "acute_morbidity_indicator"], **kw)
g = g.sort_values("lsoa21cd").reset_index(drop=True)
x = g["imd_score"].to_numpy(float); y = g["acute_morbidity_indicator"].to_numpy(float)
steps = {}
def step(name, t0):
    steps[name] = time.perf_counter() - t0
    return time.perf_counter()
t = time.perf_counter()
"""

GAPMAP = LOAD + """
from geo.stats import weights
from geo.stats.local_moran import local_moran
from geo.stats.getis_ord import getis_ord
from geo.stats.bivariate_moran import bivariate_moran
t = step("imports", t)
w = weights.build(g, "queen"); t = step("weights", t)
local_moran(x, w); t = step("local Moran", t)
getis_ord(x, w, inference="permutation"); t = step("Gi*", t)
bivariate_moran(x, y, w); t = step("bivariate Moran", t)
print(json.dumps(steps))
"""

PYGEODA = LOAD + """
import pygeoda
t = step("imports", t)
gda = pygeoda.open(g); w = pygeoda.queen_weights(gda); t = step("weights", t)
kw = dict(permutations=999, permutation_method="lookup-table", cpu_threads=2, seed=1)
pygeoda.local_moran(w, g["imd_score"], **kw); t = step("local Moran", t)
pygeoda.local_gstar(w, g["imd_score"], **kw); t = step("Gi*", t)
pygeoda.local_bimoran(w, g["imd_score"], g["acute_morbidity_indicator"], **kw); t = step("bivariate Moran", t)
print(json.dumps(steps))
"""

ESDA = LOAD + """
import warnings; warnings.filterwarnings("ignore")
from libpysal.weights import Queen
import esda
t = step("imports", t)
w = Queen.from_dataframe(g, use_index=False, silence_warnings=True); w.transform = "r"; t = step("weights", t)
esda.Moran_Local(x, w, permutations=999, n_jobs=1, seed=1); t = step("local Moran", t)
esda.G_Local(x, w, star=True, permutations=999, n_jobs=1, seed=1); t = step("Gi*", t)
esda.Moran_Local_BV(x, y, w, permutations=999, n_jobs=1, seed=1); t = step("bivariate Moran", t)
print(json.dumps(steps))
"""

STEPS = ("weights", "local Moran", "Gi*", "bivariate Moran")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--extent", default="england", help="england, icb:CODE, lad:CODE or ward:CODE")
    parser.add_argument("--skip-esda", action="store_true", help="leave out plain esda (slow)")
    args = parser.parse_args()
    peers = {"gapmap": GAPMAP, "pygeoda": PYGEODA} | ({} if args.skip_esda else {"esda": ESDA})
    runs = {name: [] for name in peers}
    for _ in range(args.repeat):  # interleaved
        for name, script in peers.items():
            wall, gib, out = run_python(script, args.extent)
            runs[name].append({"wall": wall, "gib": gib, **json.loads(out.splitlines()[-1])})
    totals = {}
    print(f"extent {args.extent}, 999 permutations, medians of {args.repeat} fresh processes")
    print(f"  {'':<9}" + "".join(f"{s:>17}" for s in STEPS) + f"{'total':>10}{'process':>10}{'peak':>10}")
    for name, rows in runs.items():
        cells = [median(r[s] for r in rows) for s in STEPS]
        totals[name] = median(sum(r[s] for s in STEPS) for r in rows)
        print(f"  {name:<9}" + "".join(f"{c:>15.3f} s" for c in cells) + f"{totals[name]:>8.2f} s"
              f"{median(r['wall'] for r in rows):>8.2f} s{max(r['gib'] for r in rows):>7.2f} GiB")
    for name in runs:
        if name != "gapmap":
            print(f"  {name} / gapmap total: {totals[name] / totals['gapmap']:.1f}x")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"statistics-{args.extent.replace(':', '-')}-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(
        json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()

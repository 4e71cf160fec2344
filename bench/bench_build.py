"""Benchmark: full England build from the mirror, and loading one place from the store.

Run by hand (not in CI):

    GAPMAP_MIRROR=../shared/data python bench/bench_build.py [--repeat 3]

Each measurement runs in a fresh Python process, so import and first-call costs count. Peers
measured in the same run:

* build peer: the obvious script, which reads the LSOA GeoPackage with ``geopandas.read_file``,
  joins IoD2025 File 7 and the ward and ICB lookups with pandas and writes a GeoPackage. It does
  a small part of the build's work (no census, no 2011 carry, no areas, no points), so it is a
  floor to compare against, not an equal.
* place peer: reading the mirror's LSOA GeoPackage with ``geopandas.read_file`` and keeping one
  LAD's LSOAs through the ward lookup.

Prints medians and peak resident memory, and the ratios, as a table; writes JSON to
bench/results/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILD = """
import resource, time, sys
from pathlib import Path
t0 = time.perf_counter()
from geo.build.pipeline import build
from geo.store.folder import Store
build(Store(Path(sys.argv[1])), mirror=Path(sys.argv[2]))
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BUILD_PEER = """
import resource, time, sys
from pathlib import Path
t0 = time.perf_counter()
import geopandas as gpd, pandas as pd
m = Path(sys.argv[2])
lsoa = gpd.read_file(m / "boundaries/LSOA_2021_EW_BSC_england.gpkg")
imd = pd.read_csv(m / "deprivation/File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv")
wards = pd.read_csv(m / "lookups/LSOA21_WD24_LAD24_EW_LU.csv")
icbs = pd.read_csv(m / "lookups/LSOA21_SICBL24_ICB24_EN_LU.csv")
out = (lsoa.merge(imd, left_on="LSOA21CD", right_on="LSOA code (2021)")
           .merge(wards.drop(columns="LSOA21NM"), on="LSOA21CD")
           .merge(icbs.drop(columns="LSOA21NM"), on="LSOA21CD"))
out.to_file(Path(sys.argv[1]) / "peer.gpkg", driver="GPKG")
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

PLACE = """
import time, sys
t0 = time.perf_counter()
from geo.store.folder import Store
store = Store(sys.argv[1])
t1 = time.perf_counter()
frame = store.lsoas(lad=sys.argv[3])
t2 = time.perf_counter()
warm = []
for _ in range(5):
    s = time.perf_counter(); store.lsoas(lad=sys.argv[3]); warm.append(time.perf_counter() - s)
assert len(frame) > 0
print(t2 - t0, t2 - t1, sorted(warm)[2], len(frame))
"""

PLACE_PEER = """
import time, sys
from pathlib import Path
t0 = time.perf_counter()
import geopandas as gpd, pandas as pd
m = Path(sys.argv[2])
t1 = time.perf_counter()
lsoa = gpd.read_file(m / "boundaries/LSOA_2021_EW_BSC_england.gpkg")
wards = pd.read_csv(m / "lookups/LSOA21_WD24_LAD24_EW_LU.csv")
frame = lsoa[lsoa["LSOA21CD"].isin(wards.loc[wards["LAD24CD"] == sys.argv[3], "LSOA21CD"])]
t2 = time.perf_counter()
print(t2 - t0, t2 - t1, t2 - t1, len(frame))
"""


def run(script: str, *args: str) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", default=os.environ.get("GAPMAP_MIRROR", "../shared/data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lad", default="E06000032", help="the place to load (default Luton)")
    args = parser.parse_args()
    mirror = str(Path(args.mirror).resolve())
    results: dict[str, list] = {"build": [], "build_peer": [], "place": [], "place_peer": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "store")
        for _ in range(args.repeat):  # interleaved, so drift on the machine hits both alike
            results["build"].append(run(BUILD, store, mirror))
            results["build_peer"].append(run(BUILD_PEER, tmp, mirror))
        for _ in range(max(args.repeat, 5)):
            results["place"].append(run(PLACE, store, mirror, args.lad))
            results["place_peer"].append(run(PLACE_PEER, store, mirror, args.lad))

    def median(key, i):
        return statistics.median(r[i] for r in results[key])

    build_s, build_kb = median("build", 0), max(r[1] for r in results["build"])
    peer_s, peer_kb = median("build_peer", 0), max(r[1] for r in results["build_peer"])
    rows = [
        ("full England build (fresh process)", f"{build_s:.1f} s", f"{build_kb / 1024 ** 2:.2f} GiB peak",
         f"peer {peer_s:.1f} s, {peer_kb / 1024 ** 2:.2f} GiB; ratio {build_s / peer_s:.2f}x"),
        ("one place: process start to rows", f"{median('place', 0):.2f} s", "",
         f"peer {median('place_peer', 0):.2f} s; ratio {median('place', 0) / median('place_peer', 0):.2f}x"),
        ("one place: store read, first call", f"{median('place', 1) * 1000:.0f} ms", "",
         f"peer read {median('place_peer', 1) * 1000:.0f} ms; ratio "
         f"{median('place', 1) / median('place_peer', 1):.2f}x"),
        ("one place: store read, warm", f"{median('place', 2) * 1000:.0f} ms", "", ""),
    ]
    print(f"machine: {os.cpu_count()} cores; repeats: build {args.repeat}, place {max(args.repeat, 5)}; "
          f"place {args.lad} ({int(results['place'][0][3])} LSOAs)")
    for row in rows:
        print(f"  {row[0]:<38} {row[1]:>9} {row[2]:>16}   {row[3]}")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"build-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: a slide PNG for an ICB, a GeoJSON export of all England's LSOAs, and England's
GeoJSON and GeoPackage exports against geopandas ``to_file`` of the same frame (issue 21 item 3).

Run by hand (not in CI), after `gapmap data build`:  python bench/bench_exports.py [--repeat 3]
(``--only paired`` for the comparison alone).

Each runs in a fresh process; the time is measured inside it from the call (imports excluded)
and, separately, for the whole process. Targets: a slide under 3 s; England's GeoJSON with all
attributes under 10 s and 60 MB.

Paired with the peer, one of each per round (medians, ratios Gapmap / peer), for each format:

* Gapmap warm: ``export_table`` + ``write`` after the map table was made once in the process (as
  the server holds it once the map has been drawn: the export reuses it);
* Gapmap cold: the same in a fresh process (the statistics of the map table computed first);
* peer: ``GeoDataFrame.to_file`` (engine pyogrio, GDAL's GeoJSON or GPKG driver) of the frame
  Gapmap exports, made beforehand (only the writing is timed).
Target: Gapmap warm at or below the peer.
"""
from __future__ import annotations

import argparse
import json
import statistics

from harness import run_python

SLIDE = """
import time, json, tempfile
from geo.store.folder import Store
from geo.views.analysis import Extent
from geo.outputs import slides
t = time.perf_counter()
slides.render(Store(), "acute_morbidity_indicator", Extent("icb", "E54000024"), "bivariate", "png", tempfile.mkdtemp())
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

GEOJSON = """
import time, json, tempfile
from geo.store.folder import Store
from geo.views.analysis import Extent
from geo.outputs import exports
t = time.perf_counter()
frame, meta = exports.export_table(Store(), "imd_score", Extent())
path = exports.write(frame, meta, "geojson", tempfile.mkdtemp(), "imd_score", Extent())
print(json.dumps({"seconds": time.perf_counter() - t, "mb": path.stat().st_size / 1e6}))
"""


PAIRED = """
import json, sys, tempfile, time
from pathlib import Path
import geopandas, pyogrio  # imports are not what is measured
from geo.store.folder import Store
from geo.views.analysis import Extent
from geo.outputs import exports
way, fmt = sys.argv[1], sys.argv[2]
store, extent, out = Store(), Extent(), Path(tempfile.mkdtemp(prefix="gapmap-bench-"))
if way in ("warm", "peer"):
    frame, meta = exports.export_table(store, "imd_score", extent)  # the map table, made once
t = time.perf_counter()
if way == "peer":
    path = out / f"peer.{fmt}"
    frame.to_file(path, driver={"geojson": "GeoJSON", "gpkg": "GPKG"}[fmt], engine="pyogrio")
else:
    frame, meta = exports.export_table(store, "imd_score", extent, geometry=exports.GEOMETRY_OF[fmt])  # as the CLI
    path = exports.write(frame, meta, fmt, out, "imd_score", extent)
print(json.dumps({"seconds": time.perf_counter() - t, "mb": path.stat().st_size / 1e6}))
"""


def paired(repeat: int) -> None:
    ways = {"Gapmap warm": "warm", "Gapmap cold": "cold", "peer: geopandas to_file (pyogrio)": "peer"}
    for fmt in ("geojson", "gpkg"):
        runs = {name: [] for name in ways}
        for _ in range(repeat):
            for name, way in ways.items():
                runs[name].append(json.loads(run_python(PAIRED, way, fmt)[2]))
        med = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
        print(f"England {fmt}, {repeat} paired rounds:")
        for name in ways:
            print(f"  {name:<36} median {med[name]:6.2f} s  {runs[name][0]['mb']:6.1f} MB")
        peer = "peer: geopandas to_file (pyogrio)"
        for name in ("Gapmap warm", "Gapmap cold"):
            print(f"  {name} / peer  {med[name] / med[peer]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["paired"], help="run only the paired comparison with to_file")
    args = parser.parse_args()
    if args.only == "paired":
        paired(args.repeat)
        return
    for name, script in (("ICB slide PNG (bivariate)", SLIDE), ("England GeoJSON, all attributes", GEOJSON)):
        runs = [run_python(script) for _ in range(args.repeat)]
        inner = [json.loads(r[2])for r in runs]
        extra = f", {inner[0]['mb']:.1f} MB" if "mb" in inner[0] else ""
        print(f"{name}: {statistics.median(i['seconds'] for i in inner):.2f} s (process "
              f"{statistics.median(r[0] for r in runs):.2f} s, peak {max(r[1] for r in runs):.2f} GiB{extra})")
    paired(args.repeat)


if __name__ == "__main__":
    main()

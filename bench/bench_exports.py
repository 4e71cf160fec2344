"""Benchmark: a slide PNG for an ICB, and a GeoJSON export of all England's LSOAs.

Run by hand (not in CI), after `gapmap data build`:  python bench/bench_exports.py [--repeat 3]

Each runs in a fresh process; the time is measured inside it from the call (imports excluded)
and, separately, for the whole process. Targets: a slide under 3 s; England's GeoJSON with all
attributes under 10 s and 60 MB.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, script in (("ICB slide PNG (bivariate)", SLIDE), ("England GeoJSON, all attributes", GEOJSON)):
        runs = [run_python(script) for _ in range(args.repeat)]
        inner = [json.loads(r[2])for r in runs]
        extra = f", {inner[0]['mb']:.1f} MB" if "mb" in inner[0] else ""
        print(f"{name}: {statistics.median(i['seconds'] for i in inner):.2f} s (process "
              f"{statistics.median(r[0] for r in runs):.2f} s, peak {max(r[1] for r in runs):.2f} GiB{extra})")


if __name__ == "__main__":
    main()

"""Benchmark: ingest of 1 and 10 million synthetic A&E records, against the obvious pandas script.

Run by hand (not in CI), after `gapmap data build` (it reads the store for the synthetic data):

    python bench/bench_ingest.py [--icb E54000024] [--sizes 1000000,10000000] [--repeat 3]

For each size it writes a synthetic SUS-shaped CSV (1% dirty rows) with `gapmap demo-data`, then,
in fresh processes and interleaved, runs

* gapmap: `ingest(FILE)`: reads, checks every row, converts 2011 codes, aggregates per LSOA,
  writes the dataset, its report and the list of rows not used;
* peer: `pandas.read_csv(FILE).groupby(LSOA column).size()`, which checks nothing.

and prints the median wall time (process start to exit) and peak resident memory of each, and the
ratio. Targets: 10 million rows in under 60 s and 4 GiB, and no slower than the peer.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness import ROOT, median, run_python

INGEST = """
import sys
from geo.ingest.pipeline import IngestOptions, ingest
from geo.store.folder import Store
result = ingest(sys.argv[1], IngestOptions(name="bench"), Store(sys.argv[2]))
print(result.report["rows_used"])
"""

PEER = """
import sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
print(len(frame.groupby("Der_Postcode_LSOA_2021_Code").size()))
"""

GENERATE = """
import sys
from pathlib import Path
from geo.ingest import synthetic
from geo.store.folder import Store
table, meta = synthetic.generate(Store(sys.argv[2]), sys.argv[3], int(sys.argv[4]), seed=1, dirty=0.01)
synthetic.write(table, meta, Path(sys.argv[1]))
"""


def main() -> None:
    from geo import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--icb", default="E54000024")
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", default=str(settings.store_dir()))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            path = Path(tmp) / f"ae_{size}.csv"
            run_python(GENERATE, str(path), args.store, args.icb, str(size))
            ours, peer = [], []
            for _ in range(args.repeat):
                ours.append(run_python(INGEST, str(path), args.store)[:2])
                peer.append(run_python(PEER, str(path))[:2])
            results[size] = {"gapmap": ours, "pandas": peer, "bytes": path.stat().st_size}
            g_t, p_t = median(t for t, _ in ours), median(t for t, _ in peer)
            g_m, p_m = max(m for _, m in ours), max(m for _, m in peer)
            print(f"{size:>11,} rows ({path.stat().st_size / 1e6:,.0f} MB): gapmap {g_t:6.2f} s {g_m:5.2f} GiB | "
                  f"pandas {p_t:6.2f} s {p_m:5.2f} GiB | time ratio gapmap/pandas {g_t / p_t:.2f}")
    from geo.store.datasets import DatasetError, DatasetStore
    from geo.store.folder import Store

    try:  # leave the store as it was
        DatasetStore(Store(args.store)).remove("bench")
    except DatasetError:
        pass
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"ingest-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

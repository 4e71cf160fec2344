"""Benchmark: ingest of 1 and 10 million SYNTHETIC A&E records, against DuckDB making the same checks.

Run by hand (not in CI), after `gapmap data build` (it reads the store for the synthetic data; the
ingest writes a dataset 'bench' into the store and removes it at the end, so give a copy):

    pip install -e '.[bench]'
    python bench/bench_ingest.py --store /tmp/ingest-store [--icb E54000024] [--sizes 1000000,10000000] [--repeat 3]

For each size it writes a synthetic SUS-shaped CSV (1% dirty rows: unknown, 2011, Welsh and empty
LSOA codes, bad and future dates, bad ages, repeated ids) with `gapmap demo-data`, then, in fresh
processes, paired (one of each per repeat, the order alternating), runs

* gapmap: `ingest(FILE, by=age_band,sex,ethnic_group,period)`: reads, checks every row, converts
  2011 codes, counts per LSOA x breakdown, writes the dataset, its report and the rows not used;
* duckdb: `bench/ingest_peer_duckdb.py`: the same checks in the same order, the same counts per
  LSOA x breakdown (Parquet) and every rejected row with its file row, column, value and reason
  (CSV), on every core.

Both must agree on the rows used, the rows rejected for each column and the sum of the counts
stored (the run stops if not). It prints the median wall time (process start to exit) and the
median peak resident memory of each, their ratios (gapmap / duckdb), and how Gapmap's peak memory
grows from the smallest to the largest file (flat: about 1). Targets: ratios at or below 1.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness import ROOT, median, run_python

BY = "age_band,sex,ethnic_group,period"

INGEST = """
import json, sys
from geo.ingest.pipeline import IngestOptions, ingest
from geo.store.folder import Store
result = ingest(sys.argv[1], IngestOptions(name="bench", by=tuple(sys.argv[3].split(","))), Store(sys.argv[2]))
rejected = {}
for r in result.report["reasons"]:
    if not r["used"]:
        rejected[r["column"]] = rejected.get(r["column"], 0) + r["rows"]
print(json.dumps({"rows_used": result.report["rows_used"], "rejected_by_column": rejected,
                  "counts_stored": result.report["counts_stored"]}))
"""

PEER = (ROOT / "bench" / "ingest_peer_duckdb.py").read_text()

GENERATE = """
import sys
from pathlib import Path
from geo.ingest import synthetic
from geo.store.folder import Store
synthetic.write_in_pieces(Store(sys.argv[2]), sys.argv[3], int(sys.argv[4]), Path(sys.argv[1]), seed=1, dirty=0.01)
"""


def _summary(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def _agree(ours: dict, peer: dict, size: int) -> None:
    same = (ours["rows_used"] == peer["rows_used"] and ours["rejected_by_column"] == peer["rejected_by_column"]
            and abs(ours["counts_stored"] - peer["counts_stored"]) < 1e-6 * max(1.0, peer["counts_stored"]))
    if not same:
        raise SystemExit(f"{size:,} rows: gapmap and duckdb disagree:\n  gapmap {ours}\n  duckdb {peer}")


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
            out = Path(tmp) / f"duckdb_{size}"
            out.mkdir()
            ours, peer = [], []
            for i in range(args.repeat):
                for who in (("gapmap", "duckdb") if i % 2 == 0 else ("duckdb", "gapmap")):
                    if who == "gapmap":
                        ours.append(run_python(INGEST, str(path), args.store, BY))
                    else:
                        peer.append(run_python(PEER, str(path), args.store, str(out)))
            _agree(_summary(ours[0][2]), _summary(peer[0][2]), size)
            row = {"bytes": path.stat().st_size, "summary": _summary(ours[0][2]),
                   "gapmap": [r[:2] for r in ours], "duckdb": [r[:2] for r in peer]}
            row.update({"gapmap_s": median(r[0] for r in ours), "duckdb_s": median(r[0] for r in peer),
                        "gapmap_gib": median(r[1] for r in ours), "duckdb_gib": median(r[1] for r in peer)})
            results[size] = row
            print(f"{size:>11,} rows ({row['bytes'] / 1e6:,.0f} MB): gapmap {row['gapmap_s']:6.2f} s "
                  f"{row['gapmap_gib']:5.2f} GiB | duckdb {row['duckdb_s']:6.2f} s {row['duckdb_gib']:5.2f} GiB | "
                  f"gapmap/duckdb: time {row['gapmap_s'] / row['duckdb_s']:.2f}x, "
                  f"memory {row['gapmap_gib'] / row['duckdb_gib']:.2f}x", flush=True)
    sizes = sorted(results)
    if len(sizes) > 1:
        grow = results[sizes[-1]]["gapmap_gib"] / results[sizes[0]]["gapmap_gib"]
        print(f"gapmap peak memory, {sizes[-1]:,} rows / {sizes[0]:,} rows: {grow:.2f}x "
              f"(file {sizes[-1] / sizes[0]:.0f}x)")
    from geo.store.datasets import DatasetError, DatasetStore
    from geo.store.folder import Store

    try:  # leave the store as it was
        DatasetStore(Store(args.store)).remove("bench")
    except DatasetError:
        pass
    folder = ROOT / "bench" / "results"
    folder.mkdir(exist_ok=True)
    (folder / f"ingest-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

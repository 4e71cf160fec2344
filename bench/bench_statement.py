"""Benchmark: a whole BLMK health inequalities statement with six indicators, from the command.

Run by hand (not in CI), after `gapmap data build`:  python bench/bench_statement.py [--repeat 3]

Makes sure the store holds the SYNTHETIC demo datasets of UEC01, CVD01, ORA01, MAT01, RES02 and CVD03 (running
`gapmap demo-data --icb QHG --indicators all --ingest` once if not), then times
`gapmap statement --icb QHG --out TMP` (report, deck with maps, CSV and XLSX, targeting lists)
as a whole process, from the command to its exit. Target: under 30 s. Prints each run and the
median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from harness import ROOT


def gapmap(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "geo.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    listing = gapmap("datasets").stdout
    if not all(f"demo-{c}" in listing for c in ("uec01", "cvd01", "ora01", "mat01", "res02", "cvd03")):
        with tempfile.TemporaryDirectory() as tmp:
            done = gapmap("demo-data", "--icb", "QHG", "--indicators", "all", "--ingest", "--out", tmp)
            if done.returncode != 0:
                sys.exit(done.stderr)
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            done = gapmap("statement", "--icb", "QHG", "--out", tmp)
            runs.append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(done.stderr)
            last = done.stdout.strip().splitlines()[-1]
    print(json.dumps({"runs_seconds": [round(r, 2) for r in runs], "median_seconds": round(statistics.median(runs), 2),
                      "target_seconds": 30, "last_output": last}, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: the PostgreSQL/PostGIS store against the folder store (run by hand, not in CI).

    python bench/bench_postgis.py [--database URL] [--store var/store] [--records FILE]
                                  [--repeat 3] [map] [ingest] [concurrent] [workers]

Without ``--database`` it starts a throwaway cluster (tests/pg_cluster.py: Debian's PostgreSQL 15
and PostGIS, on a unix socket) and publishes the folder store into it (timed). ``--records`` is a
SUS-shaped CSV made with ``gapmap demo-data --icb QHG --rows 10000000 --dirty 0.01 --out FILE``
(``--rows 100000000`` writes 4.7 GB in pieces of 10 million rows).

map         one LAD map (Luton, imd_score, every layer) from each store: cold (the first render in
            a fresh process: store reads included) and warm (the median of the next 5 renders in
            that process); medians over --repeat processes.
ingest      the records file into each store, in a fresh process: wall time, rows per second and
            peak resident memory (the streaming ingest reads 4M rows at a time).
concurrent  two analysts ingesting the records file at once into PostgreSQL (two processes, two
            dataset names) against one alone: wall times, and the two reports must reconcile.
workers     `gapmap serve` on PostgreSQL, 1 process (waitress, 8 threads) and then 4 workers
            (gunicorn, 2 threads each: the same 8 request threads), with `wrk` driving 100 concurrent connections at the ICB map for 20 s, after
            a 15 s warm-up run that lets every worker cache it:
            requests per second, p50/p95/p99 and non-2xx responses. Loopback ports 8110-8119.
Results go to bench/results/postgis-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness import ROOT, run_python, wrk_latency

sys.path.insert(0, str(ROOT))

MAP = """
import sys, time, json
t0 = time.perf_counter()
from geo.store import open_store
from app.map_layers import choropleth_map
from geo.views.analysis import Extent
store = open_store(root=sys.argv[1] or None, url=sys.argv[2])
times = []
for i in range(6):
    t = time.perf_counter()
    html = choropleth_map(store, "imd_score", Extent("lad", "E06000032")).get_root().render()
    times.append(time.perf_counter() - t)
print(json.dumps({"cold": times[0], "warm": sorted(times[1:])[2], "bytes": len(html.encode())}))
"""

INGEST = """
import sys, time, json
from geo.ingest.pipeline import IngestOptions, ingest
from geo.store import open_store
store = open_store(root=sys.argv[2] or None, url=sys.argv[3])
t = time.perf_counter()
result = ingest(sys.argv[1], IngestOptions(name=sys.argv[4], by=("age_band", "sex")), store)
r = result.report
print(json.dumps({"seconds": time.perf_counter() - t, "rows_read": r["rows_read"], "rows_used": r["rows_used"],
                  "rows_rejected": r["rows_rejected"], "counts_used": r["counts_used"],
                  "stored": float(result.dataset.counts()["count"].sum())}))
"""


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_port() -> int:
    for port in range(8110, 8120):
        if port_free(port):
            return port
    raise RuntimeError("no free port in 8110-8119")


def bench_map(store: str, url: str, repeat: int) -> dict:
    out = {}
    for backend, args in (("folder", (store, "")), ("postgis", ("", url))):
        runs = [json.loads(run_python(MAP, *args)[2]) for _ in range(repeat)]
        out[backend] = {"cold_s": statistics.median(r["cold"] for r in runs),
                        "warm_s": statistics.median(r["warm"] for r in runs), "bytes": runs[0]["bytes"]}
        print(f"LAD map from {backend:<8} cold {out[backend]['cold_s']:6.2f} s  warm {out[backend]['warm_s']:6.2f} s "
              f"({out[backend]['bytes'] / 1e6:.1f} MB)", flush=True)
    return out


def bench_ingest(store: str, url: str, records: str, repeat: int) -> dict:
    out = {}
    for backend, args in (("folder", (store, "")), ("postgis", ("", url))):
        runs = []
        for i in range(repeat):
            wall, rss, text = run_python(INGEST, records, *args, f"bench-{backend}")
            runs.append({**json.loads(text), "wall": wall, "rss_gib": rss})
        r = runs[0]
        assert r["rows_read"] == r["rows_used"] + r["rows_rejected"] and abs(r["stored"] - r["counts_used"]) < 1e-6
        seconds = statistics.median(x["seconds"] for x in runs)
        out[backend] = {"rows": r["rows_read"], "seconds": seconds, "rows_per_s": r["rows_read"] / seconds,
                        "wall_s": statistics.median(x["wall"] for x in runs),
                        "peak_rss_gib": max(x["rss_gib"] for x in runs)}
        print(f"ingest {r['rows_read']:,} rows into {backend:<8} {seconds:6.1f} s "
              f"({out[backend]['rows_per_s']:,.0f} rows/s), peak {out[backend]['peak_rss_gib']:.2f} GiB", flush=True)
    return out


def bench_concurrent(url: str, records: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(name):
        code = INGEST + "\nimport resource as _r\nprint('MAXRSS', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n"
        return subprocess.Popen([sys.executable, "-c", code, records, "", url, name], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(proc):
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(err[-2000:])
        return json.loads(out.strip().splitlines()[0])

    t = time.perf_counter()
    alone = finish(start("alone"))
    alone_wall = time.perf_counter() - t
    t = time.perf_counter()
    procs = [start("analyst-a"), start("analyst-b")]
    both = [finish(p) for p in procs]
    both_wall = time.perf_counter() - t
    for r in [alone, *both]:
        assert r["rows_read"] == r["rows_used"] + r["rows_rejected"] and abs(r["stored"] - r["counts_used"]) < 1e-6
    assert both[0]["counts_used"] == both[1]["counts_used"] == alone["counts_used"]
    print(f"one ingest alone {alone_wall:6.1f} s; two at once {both_wall:6.1f} s "
          f"(each {both[0]['seconds']:.1f} s and {both[1]['seconds']:.1f} s); totals reconcile", flush=True)
    return {"alone_s": alone_wall, "both_s": both_wall, "each_s": [b["seconds"] for b in both],
            "rows": alone["rows_read"]}


def bench_workers(url: str, seconds: int = 20, connections: int = 100) -> dict:
    wrk = shutil.which("wrk")
    if not wrk:
        print("wrk is not installed (apt-get install wrk): no load test")
        return {}
    out = {}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GAPMAP_DATABASE_URL": url}
    for workers in (1, 4):
        port = pick_port()
        threads = max(1, 8 // workers)  # the same 8 request threads in all
        server = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--port", str(port), "--workers",
                                   str(workers), "--threads", str(threads)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            target = f"http://127.0.0.1:{port}/map/frame?icb=E54000024&indicator=imd_score"
            for _ in range(600):
                try:
                    urllib.request.urlopen(target, timeout=120).read()
                    break
                except OSError:
                    time.sleep(0.2)
            # every worker renders and caches the map before timing: a first wrk run warms them all
            subprocess.run([wrk, "-t2", f"-c{4 * workers}", "-d15s", "--timeout", "60s", target],
                           capture_output=True, timeout=200)
            result = wrk_latency(target, connections, seconds, wrk)
            out[f"{workers}_workers"] = result
            result["threads_per_process"] = threads
            print(f"{workers} process(es) x {threads} threads: {result['rps']:7.1f} req/s, p50 {result['p50_ms']:.0f} ms, "
                  f"p95 {result['p95_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms, "
                  f"non-2xx {result['non2xx']}, socket errors {result['errors']}", flush=True)
        finally:
            server.terminate()
            server.wait(60)
    return out


def main() -> None:
    from geo import settings
    from geo.store.folder import Store

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="*", default=["map", "ingest", "concurrent", "workers"])
    parser.add_argument("--database", default=settings.database_url())
    parser.add_argument("--store", default=str(settings.store_dir()))
    parser.add_argument("--records", help="a CSV of records (gapmap demo-data) for ingest and concurrent")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    cluster = None
    url = args.database
    try:
        if not url:
            from geo.store.postgis import PostgisStore, publish
            from tests.pg_cluster import Cluster

            cluster = Cluster().start()
            url = cluster.new_database("bench")
            t = time.perf_counter()
            publish(Store(args.store), PostgisStore(url))
            results["publish_s"] = time.perf_counter() - t
            print(f"published {args.store} to a throwaway cluster in {results['publish_s']:.1f} s", flush=True)
        if "map" in args.what:
            results["map"] = bench_map(args.store, url, args.repeat)
        if args.records and "ingest" in args.what:
            results["ingest"] = bench_ingest(args.store, url, args.records, args.repeat)
        if args.records and "concurrent" in args.what:
            results["concurrent"] = bench_concurrent(url, args.records)
        if "workers" in args.what:
            results["workers"] = bench_workers(url)
    finally:
        if cluster is not None:
            cluster.stop()
    out = ROOT / "bench" / "results" / f"postgis-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()

"""Benchmark: the single-user server's memory over many cold maps, under the one cache budget.

Run by hand (not in CI), against a built store:

    GAPMAP_STORE=/tmp/doors-store python bench/bench_memory.py [--requests 20] [--budget-mb 512]
        [--compare-mb 100000]

It starts `gapmap serve` (single-user, waitress) on a free loopback port with
``GAPMAP_CACHE_MB=--budget-mb``, then asks for ``--requests`` cold maps in turn, each a new
indicator x extent pair (the IMD and its domain scores, acute_morbidity_indicator and the store's
ingested datasets, if any; over England, ICBs and local authorities), each as the map page (with
its side panel), the map frame and the GeoJSON layer, and prints the server's resident memory
(VmRSS, from /proc) after each. ``--compare-mb`` runs the same requests again against a server
whose budget is that large (in effect no budget as a whole, only each cache's own bound), so the
two curves can be read side by side. The server settles its allocators as `gapmap serve` does
(:func:`geo.views.process_memory.settle`); ``BENCH_ALLOCATORS=default`` leaves them as Python,
glibc and Arrow start, to see what that changes. The summary gives, per run, the median and the highest RSS
and the growth over the second half of the requests (levelling off: close to zero).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import wait_for_server  # noqa: E402  (bench/ is not a package)
INDICATORS = ["imd_score", "income_score", "employment_score", "education_score", "health_score", "crime_score",
              "barriers_score", "living_environment_score", "acute_morbidity_indicator"]
EXTENTS = ["extent=england", "icb=E54000024", "icb=E54000008", "lad=E06000032", "icb=E54000057",
           "lad=E08000025", "extent=england", "icb=E54000048", "lad=E09000030", "icb=E54000027"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of process ``pid``, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def datasets(store: str) -> list[str]:
    from geo.store.datasets import DatasetStore
    from geo.store.folder import Store

    return [m["name"] for m in DatasetStore(Store(store)).list() if m.get("shape") != "fingertips"]


def serve(port: int) -> None:
    """The child: the single-user service as `gapmap serve` runs it (waitress, 32 threads, loopback),
    answering "stats" on stdin with the caches' bytes (what the budget counts) as one JSON line."""
    import json
    import threading

    from waitress import create_server

    from app import create_app
    from geo.views.cache_budget import BUDGET
    from geo.views.process_memory import settle

    if os.environ.get("BENCH_ALLOCATORS", "settled") == "settled":  # as `gapmap serve` does
        settle()

    server = create_server(create_app(), host="127.0.0.1", port=port, threads=32, channel_request_lookahead=1)
    threading.Thread(target=server.run, daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "stats":
            caches = {c.name or "?": c.nbytes for c in BUDGET.caches()}
            print(json.dumps({"budget": BUDGET.max_bytes, "held": BUDGET.nbytes, "caches": caches}), flush=True)


def start_server(port: int, budget_mb: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GAPMAP_CACHE_MB": str(budget_mb)}
    env.pop("GAPMAP_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return wait_for_server(proc, port, 600)


def cache_mb(proc: subprocess.Popen) -> float:
    """What the server's caches hold together, MB (their estimates, as the budget counts them)."""
    import json

    proc.stdin.write("stats\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())["held"] / 1e6


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=900) as response:
        return len(response.read())


def run(store: str, requests: int, budget_mb: float) -> tuple[list[float], list[float]]:
    indicators = INDICATORS + datasets(store)
    port = free_port()
    proc = start_server(port, budget_mb)
    base = f"http://127.0.0.1:{port}"
    out, held = [], []
    try:
        start, _ = rss_mb(proc.pid)
        print(f"\nGAPMAP_CACHE_MB={budget_mb:g}: server started, RSS {start:,.0f} MB")
        print(f"{'#':>3}  {'indicator':<28} {'extent':<16} {'seconds':>8} {'RSS MB':>8} {'peak MB':>8} "
              f"{'caches MB':>9}")
        for i in range(requests):
            indicator = indicators[i % len(indicators)]
            extent = EXTENTS[(i + i // len(indicators)) % len(EXTENTS)]  # a new pair each time
            query = f"{extent}&indicator={indicator}"
            t = time.perf_counter()
            for path in ("/map", "/map/frame", "/api/lsoas.geojson"):
                fetch(f"{base}{path}?{query}")
            seconds = time.perf_counter() - t
            rss, peak = rss_mb(proc.pid)
            out.append(rss)
            held.append(cache_mb(proc))
            print(f"{i + 1:>3}  {indicator:<28} {extent:<16} {seconds:>8.1f} {rss:>8,.0f} {peak:>8,.0f} "
                  f"{held[-1]:>9,.0f}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out, held


def summary(budget_mb: float, curve: list[float], held: list[float]) -> str:
    half = curve[len(curve) // 2:]
    return (f"GAPMAP_CACHE_MB={budget_mb:g}: median RSS {statistics.median(curve):,.0f} MB, highest "
            f"{max(curve):,.0f} MB, last {curve[-1]:,.0f} MB; growth over the second half "
            f"{half[-1] - half[0]:+,.0f} MB; caches hold at most {max(held):,.0f} MB (median "
            f"{statistics.median(held):,.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)  # the child
    parser.add_argument("--budget-mb", type=float, default=512)
    parser.add_argument("--compare-mb", type=float, default=None,
                        help="also run with this budget (e.g. 100000: no bound on the whole)")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    store = os.environ.get("GAPMAP_STORE")
    if not store:
        sys.exit("set GAPMAP_STORE to a built store (gapmap data build)")
    runs = [(args.budget_mb, *run(store, args.requests, args.budget_mb))]
    if args.compare_mb:
        runs.append((args.compare_mb, *run(store, args.requests, args.compare_mb)))
    print()
    for budget, curve, held in runs:
        print(summary(budget, curve, held))


if __name__ == "__main__":
    main()

"""Benchmark: map pages from the web service, against GeoDataFrame.explore() for the same LSOAs.

Run by hand (not in CI), after `gapmap data build` (and with `wrk` from Debian installed):

    python bench/bench_service.py [--repeat 3] [--concurrency 20] [--seconds 10]

For a ward, a place (LAD), an ICB and England it starts a fresh `gapmap serve` (waitress) on
loopback and measures the map (`/map/frame`, every layer) and the page around it (`/map`, with the
side panel): bytes, and server time cold (the first request to a fresh server) and warm (the
median of the next requests). Then `wrk` drives 20 concurrent connections at the warm ICB map and
reports p50 and p95 latency. The peer is the obvious way, `GeoDataFrame.explore()` of the same
LSOAs with the indicator as its one layer, timed and weighed in the same run (England's explore()
runs in a child process because it takes long and much memory).
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

from harness import ROOT, run_python, wait_for_server

PAGES = {  # name: (query, explore filter)
    "ward": ("ward=E05014746", {"ward": "E05014746"}),
    "LAD": ("lad=E06000032", {"lad": "E06000032"}),
    "ICB": ("icb=E54000024", {"icb": "E54000024"}),
    "England": ("extent=england", {}),
}
INDICATOR = "imd_score"

EXPLORE = """
import sys, time, json
from geo.store.folder import Store
t = time.perf_counter()
kw = json.loads(sys.argv[1])
g = Store().lsoas(columns=["lsoa21cd", "lsoa21nm", "imd_score"], **kw)
html = g.explore(column="imd_score").get_root().render()
print(json.dumps({"bytes": len(html.encode()), "seconds": time.perf_counter() - t}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as response:
        body = response.read()
    return len(body), time.perf_counter() - start


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--port", str(port), "--threads", "8"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_for_server(proc, port, 200)


def england_draw_time(repeat: int) -> float:
    """Seconds from asking for the England map to its LSOA layer being on the page, in Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}/map/frame?extent=england&indicator={INDICATOR}"
    fetch(url)  # the server's cache is warm: this measures transfer, parsing and drawing
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    times = []
    try:
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            for _ in range(repeat):
                driver.get("about:blank")
                start = time.perf_counter()
                driver.get(url)
                WebDriverWait(driver, 120).until(lambda d: d.execute_script(
                    "return window.gapmapLsoas && window.gapmapLsoas.getLayers().length"))
                times.append(time.perf_counter() - start)
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--load-only", action="store_true", help="only the load test")
    parser.add_argument("--ward", default="E05014746", help="a ward code (default: one of Luton's)")
    args = parser.parse_args()
    PAGES["ward"] = (f"ward={args.ward}", {"ward": args.ward})
    results = {}
    for name, (query, explore_filter) in ({} if args.load_only else PAGES).items():
        row = {}
        for path in ("map/frame", "map"):
            cold, warm, size = [], [], 0
            for _ in range(args.repeat):
                port = free_port()
                server = start_server(port)
                try:
                    url = f"http://127.0.0.1:{port}/{path}?{query}&indicator={INDICATOR}"
                    size, first = fetch(url)
                    cold.append(first)
                    warm.extend(fetch(url)[1] for _ in range(5))
                finally:
                    server.terminate()
                    server.wait()
            row[path] = {"bytes": size, "cold_s": statistics.median(cold), "warm_s": statistics.median(warm)}
        explore = [json.loads(run_python(EXPLORE, json.dumps(explore_filter))[2]) for _ in range(
            1 if name == "England" else args.repeat)]
        row["explore"] = {"bytes": explore[0]["bytes"], "seconds": statistics.median(e["seconds"] for e in explore)}
        results[name] = row
        print(f"{name:<8} map {row['map/frame']['bytes'] / 1e6:7.2f} MB cold {row['map/frame']['cold_s']:6.2f} s "
              f"warm {row['map/frame']['warm_s'] * 1000:6.0f} ms | page {row['map']['bytes'] / 1e3:6.0f} kB cold "
              f"{row['map']['cold_s']:6.2f} s warm {row['map']['warm_s'] * 1000:6.0f} ms | explore() "
              f"{row['explore']['bytes'] / 1e6:7.2f} MB {row['explore']['seconds']:6.2f} s | bytes ratio "
              f"{row['map/frame']['bytes'] / row['explore']['bytes']:.2f}")
    if not args.load_only:
        results["england_draw_s"] = england_draw_time(args.repeat)
        print(f"England map drawn in headless Chromium (request to layer drawn, warm server): "
              f"{results['england_draw_s']:.2f} s")
    wrk = shutil.which("wrk")
    if wrk:
        port = free_port()
        server = start_server(port)
        try:
            url = f"http://127.0.0.1:{port}/map/frame?icb=E54000024&indicator={INDICATOR}"
            fetch(url)  # warm the cache
            script = ROOT / "bench" / "results" / "percentiles.lua"
            script.parent.mkdir(exist_ok=True)
            script.write_text('done = function(summary, latency, requests)\n'
                              '  io.write(string.format("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, %d requests\\n",\n'
                              '    latency:percentile(50) / 1000, latency:percentile(95) / 1000,\n'
                              '    latency:percentile(99) / 1000, summary.requests))\nend\n')
            # as a browser asks: compressed
            out = subprocess.run([wrk, "-t2", f"-c{args.concurrency}", f"-d{args.seconds}s", "-s", str(script),
                                  "-H", "Accept-Encoding: gzip, deflate", url],
                                 capture_output=True, text=True, timeout=args.seconds + 60)
            line = out.stdout.strip().splitlines()[-1]
            results["load"] = line
            print(f"warm ICB map, {args.concurrency} concurrent connections for {args.seconds} s: {line}")
        finally:
            server.terminate()
            server.wait()
    else:
        print("wrk is not installed (apt-get install wrk): no load test")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"service-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: Gapmap's map pages in headless Chromium against geopandas `explore()` of the same frame.

Run by hand (not in CI), with chromium, chromedriver and wrk installed:

    python bench/bench_map_page.py [--repeat 3] [--clients 100] [--seconds 15]
        [--england /tmp/doors-store] [--blmk /tmp/blmk/store] [--indicator demo-uec01]

For England and for BLMK (ICB E54000024), in one run:

- **Gapmap**: the map page ``/map?...`` of a ``gapmap serve`` (waitress) on loopback, opened in a new
  headless Chromium with an empty cache each time (a first view). *drawn*: seconds, by the page's
  own clock, from its navigation start to the map frame's LSOAs drawn (the map ready and its
  canvas, or every LSOA's SVG path, drawn) and two animation frames painted; *wall*: the same as
  Selenium sees it, WebDriver's delays included; *panel*: to the side panel's response;
  *bytes*: every response's transferSize (page, frame, scripts, styles, panel) as Resource
  Timing reports them. *fresh*: the first view after the server started (nothing cached);
  *warm*: the next views (the server's caches full; the browser's empty).
- **explore()**: ``GeoDataFrame.explore(column="value")`` of the same map table (values after
  disclosure control, full LSOA geometry), written to an HTML file once and served by Python's
  static file server (no compression, as ``python -m http.server``). explore() loads Leaflet,
  jQuery and Bootstrap from CDNs; with no internet here those addresses are pointed at copies
  served by the same static server (Leaflet, jQuery: the copies vendored in static/vendor) and
  the rest (Bootstrap, Font Awesome, awesome-markers, which draw nothing of the map) are dropped.
  *drawn*: to every LSOA's SVG path on the page and two animation frames painted, timed alike.
  With ``--paired``, one explore() view is taken just before each warm Gapmap view (so each pair
  sees the same load on a shared machine) and the median of the pairs' ratios is printed too.
- **load**: ``wrk`` with ``--clients`` connections for ``--seconds`` at the warm map page (the
  HTML), at its panel and at its map frame, gzip accepted as a browser does: p50 / p95 / p99.

Prints medians and the ratio Gapmap / explore() for time and bytes, and writes
bench/results/map-page-<time>.json.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import ROOT, wait_for_server, wrk_latency

PAGES = {"England": ("extent=england", None), "BLMK": ("icb=E54000024", ("icb", "E54000024"))}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1366,768")
# installed in every document and frame before its scripts run: records when the LSOAs are drawn
# (a Gapmap map ready with its canvas drawn, or at least N LSOA paths on the page) and two
# animation frames have passed, as epoch milliseconds in window.__drawnAt (checked every 16 ms)
WATCH = """
(function () {
  var wanted = __N__, timer = setInterval(function () {
    var d = document.documentElement; if (!d) { return; }
    var gapmap = d.getAttribute('data-gapmap-ready') === '1';
    var canvas = document.querySelector('canvas.gapmap-canvas[data-drawn]');
    var paths = document.getElementsByClassName('leaflet-interactive').length;
    if ((gapmap && (canvas || paths >= wanted)) || (!window.Gapmap && paths >= wanted)) {
      clearInterval(timer);
      requestAnimationFrame(function () { requestAnimationFrame(function () {
        window.__drawnAt = performance.timeOrigin + performance.now(); }); });
    }
  }, 16);
})();
"""
PAINTED = ("var done = arguments[arguments.length - 1];"
           "requestAnimationFrame(function () { requestAnimationFrame(function () { done(1); }); });")
# the page's own document and every resource of the page and of its frame (the frame's document
# is one of the page's resources, so not counted again)
BYTES = ("function sum(w, types) { var n = 0; types.forEach(function (t) { w.performance.getEntriesByType(t)"
         ".forEach(function (e) { n += e.transferSize || 0; }); }); return n; }"
         "var f = document.querySelector('iframe');"
         "return sum(window, ['navigation', 'resource']) + (f && f.contentWindow ? sum(f.contentWindow, ['resource']) : 0);")
EXPLORE = """
import json, sys, time
from geo.store.folder import Store
from geo.views import analysis, map_table
store, level, code, indicator, out = sys.argv[1:6]
extent = analysis.Extent(level, code) if level != "england" else analysis.Extent()
start = time.perf_counter()
table = map_table.map_table(Store(store), indicator, extent)
frame = map_table.with_geometry(table, Store(store), extent, simplified=False)
frame[["lsoa21cd", "value", "geometry"]].explore(column="value").save(out)
print(json.dumps({"seconds": time.perf_counter() - start, "lsoas": len(frame)}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gapmap(store: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GAPMAP_STORE": store}
    proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--port", str(port), "--threads", "8"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_for_server(proc, port, 600)


def browser(lsoas: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='bench-chromium-')}")  # an empty cache
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(120)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH.replace("__N__", str(lsoas))})
    return driver


def drawn_at(driver, timeout: float) -> float:
    """Seconds from the top page's navigation start to the LSOAs drawn (in the page or its frame)."""
    from selenium.webdriver.support.ui import WebDriverWait

    origin = driver.execute_script("return performance.timeOrigin")
    frames = driver.find_elements("css selector", "iframe.map-frame")
    if frames:
        driver.switch_to.frame(frames[0])
    at = WebDriverWait(driver, timeout, 0.05).until(lambda d: d.execute_script("return window.__drawnAt"))
    driver.switch_to.default_content()
    return (at - origin) / 1000


def first_view(url: str, lsoas: int, timeout: float, then=None) -> dict:
    """One first view of ``url`` in a new browser: ``drawn_s`` (seconds from navigation start to the
    LSOAs drawn, by the page's own clock), ``wall_s`` (the same as Selenium sees it, WebDriver's
    delays included), ``bytes``, and whatever ``then(driver)`` adds."""
    driver = browser(lsoas)
    try:
        start = time.perf_counter()
        driver.get(url)
        drawn = drawn_at(driver, timeout)
        row = {"drawn_s": drawn, "wall_s": time.perf_counter() - start, **(then(driver) if then else {})}
        time.sleep(0.2)  # the last response's timing entry
        return {**row, "bytes": driver.execute_script(BYTES)}
    finally:
        driver.quit()


def panel_time(driver) -> dict:
    """``panel_s``: seconds from navigation start to the side panel's response in (it must load)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 180, 0.02).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-gapmap-panel')"))
    state, panel = driver.execute_script(
        "var e = performance.getEntriesByType('resource').filter(function (r) {"
        " return r.name.indexOf('/map/panel?') >= 0; })[0];"
        "return [document.documentElement.getAttribute('data-gapmap-panel'), e ? e.responseEnd : null]")
    if state != "ready":
        raise RuntimeError(f"the panel did not load: {state}")
    return {"panel_s": panel / 1000}


def explore_site(store: str, place, indicator: str, folder: Path) -> dict:
    """explore()'s page of the same map table in ``folder`` with the scripts it needs beside it."""
    level, code = place or ("england", "")
    out = folder / "explore.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", EXPLORE, store, level, code, indicator, str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    made = json.loads(done.stdout.strip().splitlines()[-1])
    vendor = ROOT / "static" / "vendor"
    for name in ("leaflet/leaflet.js", "leaflet/leaflet.css", "jquery/jquery.min.js"):
        (folder / Path(name).name).write_bytes((vendor / name).read_bytes())
    page = out.read_text(encoding="utf-8")
    local = {r"https://[^\"']+/leaflet(@[\d.]+)?/dist/leaflet\.js": "leaflet.js",
             r"https://[^\"']+/leaflet(@[\d.]+)?/dist/leaflet\.css": "leaflet.css",
             r"https://[^\"']+/jquery-[\d.]+\.min\.js": "jquery.min.js"}
    for pattern, name in local.items():
        page = re.sub(pattern, name, page)
    page = re.sub(r'<script src="https?://[^"]+"></script>', "", page)  # the rest draws nothing of the map
    page = re.sub(r'<link rel="stylesheet" href="https?://[^"]+"\s*/?>', "", page)
    if re.search(r'(src|href)="https?://', page):
        raise RuntimeError("explore()'s page still asks the network: " + re.findall(r'(?:src|href)="https?://[^"]+', page)[0])
    out.write_text(page, encoding="utf-8")
    return made


def static_server(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--england", default="/tmp/doors-store")
    parser.add_argument("--blmk", default="/tmp/blmk/store")
    parser.add_argument("--indicator", default="demo-uec01")
    parser.add_argument("--only", choices=sorted(PAGES), help="one of the two maps")
    parser.add_argument("--paired", action="store_true",
                        help="an explore() view just before each warm Gapmap view (2 x --repeat of each), "
                             "rather than all of explore()'s views first: fairer on a shared, noisy machine")
    args = parser.parse_args()
    results = {}
    for name, (query, place) in PAGES.items():
        if args.only and name != args.only:
            continue
        store = args.england if name == "England" else args.blmk
        path = f"/map?{query}&indicator={args.indicator}"
        row = {"fresh": [], "warm": [], "explore": []}
        with tempfile.TemporaryDirectory(prefix="bench-explore-") as folder:
            made = explore_site(store, place, args.indicator, Path(folder))
            site = static_server(Path(folder))
            peer = f"http://127.0.0.1:{site.server_address[1]}/explore.html"
            try:
                if not args.paired:
                    row["explore"] = [first_view(peer, made["lsoas"], 300) for _ in range(args.repeat)]
                for _ in range(args.repeat):  # a fresh server each time: its first view, then warm views
                    port = free_port()
                    server = start_gapmap(store, port)
                    try:
                        view = f"http://127.0.0.1:{port}{path}"
                        row["fresh"].append(first_view(view, made["lsoas"], 180, panel_time))
                        for _warm in range(2):
                            if args.paired:  # explore()'s view just before each warm view, so both see the same load
                                row["explore"].append(first_view(peer, made["lsoas"], 300))
                            row["warm"].append(first_view(view, made["lsoas"], 180, panel_time))
                        if _ == 0:
                            row["load"] = {part: wrk_latency(f"http://127.0.0.1:{port}{url}", args.clients, args.seconds)
                                           for part, url in (("page", path), ("panel", path.replace("/map?", "/map/panel?")),
                                                             ("frame", path.replace("/map?", "/map/frame?")))}
                    finally:
                        server.terminate()
                        server.wait()
            finally:
                site.shutdown()
        row["explore_build_s"] = made["seconds"]
        med = {kind: {k: statistics.median(v[k] for v in row[kind]) for k in row[kind][0]}
               for kind in ("fresh", "warm", "explore")}
        row["medians"] = med
        results[name] = row
        peer = med["explore"]
        print(f"{name}: {made['lsoas']} LSOAs, {args.repeat} runs, medians")
        for kind in ("warm", "fresh"):
            m = med[kind]
            print(f"  Gapmap {kind:<5} drawn {m['drawn_s']:6.2f} s (wall {m['wall_s']:5.2f} s, panel {m['panel_s']:6.2f} s), "
                  f"{m['bytes'] / 1e6:6.2f} MB | ratio to explore(): time {m['drawn_s'] / peer['drawn_s']:.2f}x, "
                  f"bytes {m['bytes'] / peer['bytes']:.2f}x")
        print(f"  explore()    drawn {peer['drawn_s']:6.2f} s (wall {peer['wall_s']:5.2f} s), {peer['bytes'] / 1e6:6.2f} MB "
              f"(made in {made['seconds']:.1f} s beforehand, not counted)")
        if args.paired:
            pairs = [w["drawn_s"] / e["drawn_s"] for w, e in zip(row["warm"], row["explore"])]
            row["paired_ratios"] = pairs
            print(f"  paired warm / explore() drawn: median {statistics.median(pairs):.2f}x "
                  f"(of {len(pairs)} pairs: {', '.join(f'{r:.2f}' for r in pairs)})")
        for part, r in row["load"].items():
            print(f"  load, {args.clients} clients, {args.seconds} s, warm {part}: p50 {r['p50_ms']:.0f} ms, "
                  f"p95 {r['p95_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, {r['rps']:.0f} req/s, "
                  f"non-2xx {r['non2xx']}, socket errors {r['errors']}")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"map-page-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

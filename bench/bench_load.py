"""Load test: many clients at once against a real `gapmap serve`, on loopback only.

Run by hand (not in CI), after `gapmap data build` (any store with England in it):

    python bench/bench_load.py [--port 8102] [--clients 100] [--rounds 3] [--seconds 60]

It starts `gapmap serve` on 127.0.0.1 (a free port unless --port is given) and runs two phases,
each bounded in requests and in time (it stops by itself; the server is stopped at the end):

1. **maps**: ``--clients`` clients at once, each asking ``--rounds`` times for the BLMK ICB map
   (/map/frame), the England map (/map/frame?extent=england) and the England LSOA layer
   (/api/lsoas.geojson?extent=england), from a cold server: identical cold requests must be
   coalesced (computed once) and none may fail.
2. **mix**: light clients (home page, indicator list, places, the warm ICB map) alone, then again
   while heavy clients ask for cold heavy work (Fisher-Jenks classes on England with every k,
   statistics with fresh seeds, England GeoPackage and GeoJSON exports). Heavy requests may be
   refused with 503 (busy: try again) but never fail otherwise; light ones must not starve.

Reports, per phase and kind: requests, errors, status counts, p50/p95/p99 latency, and the
server's peak resident memory (VmHWM) and current RSS. Exit status 1 when a map request failed
or a light request failed or took over ``--light-limit`` seconds at p95 under load.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only, always
ICB = "E54000024"  # NHS Bedfordshire, Luton and Milton Keynes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--host", HOST, "--port", str(port),
                             "--threads", str(threads)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("the server stopped: " + proc.stderr.read().decode()[-2000:])
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/api/indicators", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def memory(pid: int) -> dict:
    """Resident memory of the server (MiB): now and its peak."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows: list[tuple[str, int, float]] = []  # (kind, status, seconds); status 0 = connection error

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.rows.append((kind, status, seconds))

    def summary(self, kind: str) -> dict:
        rows = [r for r in self.rows if r[0] == kind]
        if not rows:
            return {}
        times = sorted(r[2] for r in rows)
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[str(r[1])] = statuses.get(str(r[1]), 0) + 1

        def pct(p):
            return round(times[min(len(times) - 1, int(p / 100 * len(times)))], 3)

        return {"requests": len(rows), "statuses": statuses, "p50_s": pct(50), "p95_s": pct(95), "p99_s": pct(99),
                "max_s": round(times[-1], 3), "mean_s": round(statistics.mean(times), 3)}


def get(port: int, path: str, timeout: float) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


def run_clients(port: int, recorder: Recorder, plans: list[list[tuple[str, str]]], deadline: float,
                timeout: float, stop: threading.Event | None = None) -> None:
    """One thread per client, each running its plan of (kind, path) in turn until done or the deadline."""
    def client(plan):
        for kind, path in plan:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return
            start = time.perf_counter()
            status = get(port, path, timeout)
            recorder.add(kind, status, time.perf_counter() - start)

    threads = [threading.Thread(target=client, args=(plan,), daemon=True) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="a loopback port (default: a free one)")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="requests per client and map in phase 1")
    parser.add_argument("--light", type=int, default=20, help="light clients in phase 2")
    parser.add_argument("--heavy", type=int, default=20, help="heavy clients in phase 2")
    parser.add_argument("--seconds", type=float, default=90, help="time limit of each phase")
    parser.add_argument("--threads", type=int, default=32, help="server threads (waitress): `gapmap serve --threads`")
    parser.add_argument("--light-limit", type=float, default=5.0, help="p95 seconds a light request may take")
    args = parser.parse_args()
    if args.clients > 200 or args.light + args.heavy > 200:
        parser.error("at most 200 clients: this is a bounded test")
    port = args.port or free_port()
    server = start_server(port, args.threads)
    report: dict = {"server": {"threads": args.threads, "port": port}}
    failed = False
    try:
        report["memory_start_mib"] = memory(server.pid)
        # ---- phase 1: the ICB and England maps, cold, many clients at once
        maps = [("icb map", f"/map/frame?icb={ICB}&indicator=imd_score"),
                ("england map", "/map/frame?extent=england&indicator=imd_score"),
                ("england layer", "/api/lsoas.geojson?extent=england&indicator=imd_score")]
        recorder = Recorder()
        plans = []
        for i in range(args.clients):
            plan = [maps[(i + j) % len(maps)] for j in range(args.rounds * len(maps))]
            plans.append(plan)
        start = time.monotonic()
        run_clients(port, recorder, plans, start + args.seconds, timeout=args.seconds)
        report["maps"] = {kind: recorder.summary(kind) for kind, _ in maps}
        report["maps"]["wall_s"] = round(time.monotonic() - start, 1)
        report["memory_after_maps_mib"] = memory(server.pid)
        failed |= any(s.get("statuses", {}).keys() - {"200"} for k, s in report["maps"].items() if k != "wall_s")
        failed |= sum(s.get("requests", 0) for k, s in report["maps"].items() if k != "wall_s") \
            < args.clients * args.rounds * len(maps)
        # ---- phase 2: light requests alone, then beside heavy ones
        light = [("light", "/api/indicators"), ("light", f"/api/places?icb={ICB}"), ("light", "/"),
                 ("light", f"/map/frame?icb={ICB}&indicator=imd_score")]
        rng = random.Random(1)
        light_plans = [[light[(i + j) % len(light)] for j in range(20)] for i in range(args.light)]
        alone = Recorder()
        run_clients(port, alone, light_plans, time.monotonic() + args.seconds, timeout=30)
        report["light_alone"] = alone.summary("light")
        heavy_paths = ([f"/map/frame?extent=england&indicator=imd_score&scheme=fisher_jenks&k={k}"
                        for k in range(2, 10)]
                       + [f"/api/statistics?extent=england&indicator=imd_score&stat=local-moran&seed={s}"
                          for s in range(1, 6)]
                       + ["/api/export.gpkg?extent=england&indicator=imd_score",
                          "/api/export.geojson?extent=england&indicator=acute_morbidity_indicator",
                          f"/api/statistics?icb={ICB}&indicator=imd_score&stat=moran&permutations=9999"])
        heavy_plans = [[("heavy", rng.choice(heavy_paths)) for _ in range(3)] for _ in range(args.heavy)]
        mixed = Recorder()
        stop = threading.Event()
        deadline = time.monotonic() + args.seconds
        heavy_thread = threading.Thread(target=run_clients, args=(port, mixed, heavy_plans, deadline, args.seconds,
                                                                  stop), daemon=True)
        heavy_thread.start()
        time.sleep(1.0)  # the heavy work has started
        run_clients(port, mixed, light_plans, deadline, timeout=30)
        stop.set()  # heavy clients stop after their current request
        heavy_thread.join(args.seconds)
        report["light_with_heavy"] = mixed.summary("light")
        report["heavy"] = mixed.summary("heavy")
        report["memory_end_mib"] = memory(server.pid)
        light_statuses = report["light_with_heavy"].get("statuses", {})
        failed |= bool(light_statuses.keys() - {"200"}) or report["light_with_heavy"].get("p95_s", 0) > args.light_limit
        failed |= bool(report["heavy"].get("statuses", {}).keys() - {"200", "503"})
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    report["result"] = "FAILED" if failed else "passed"
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the light API routes under 100 concurrent clients, against static servers of the same
bytes in the same run (issue 21 item 2).

Run by hand (not in CI), with `wrk` (Debian package) and a built store:

    GAPMAP_STORE=/tmp/doors-store python bench/bench_light.py [--clients 100] [--seconds 10] [--rounds 3]

It starts, on loopback:

* `gapmap serve` (waitress, one process, ``--threads`` threads: the command's default 32);
* peer 1, the same WSGI server (waitress, same threads) serving each route's body as a static
  response (the bytes fetched from Gapmap first, with the same Content-Type);
* peer 2, Python's ``http.server`` (ThreadingHTTPServer) serving the same bodies as files.

Then, per round and per route (``/api/indicators``, ``/api/places?icb=E54000024``,
``/api/nhs-indicators``), ``wrk`` drives ``--clients`` keep-alive connections at each server in turn
for ``--seconds`` (one warm-up second first; paired, so a busy moment of the shared machine hits
all alike). wrk's own latency histogram gives p50 and p95; requests/s too; and, on Linux, the
CPU time each server process spent per request (its user + system time from ``/proc`` over the
run, divided by the requests it answered: steadier than the latencies on a shared machine).
Printed: each server's median over rounds of p50, p95, requests/s and CPU per request, and
Gapmap's ratio to each peer.
Target: Gapmap's p95 under 50 ms at 100 clients.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from harness import ROOT

sys.path.insert(0, str(ROOT))
from geo.cli import CONNECTION_LIMIT  # noqa: E402  the peer waitress takes gapmap serve's settings

HOST = "127.0.0.1"
ROUTES = ("/api/indicators", "/api/places?icb=E54000024", "/api/nhs-indicators")
THINK_LUA = """
math.randomseed(os.time())
delay = function() return math.random(500, 1500) end
"""
REPORT_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %d %d %d\\n", latency:percentile(50) / 1e6, latency:percentile(95) / 1e6,
                         summary.requests, summary.duration, summary.errors.status + summary.errors.connect
                         + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

STATIC_WSGI = """
import json, sys
from waitress import serve
bodies = json.load(open(sys.argv[1]))  # path -> [content type, body text]

def app(environ, start_response):
    path = environ["PATH_INFO"] + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
    kind, body = bodies.get(path, ("text/plain", "not found"))
    data = body.encode("utf-8")
    start_response("200 OK" if path in bodies else "404 Not Found",
                   [("Content-Type", kind), ("Content-Length", str(len(data)))])
    return [data]

serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=int(sys.argv[3]), connection_limit=int(sys.argv[4]),
      asyncore_use_poll=True)
"""

STATIC_HTTP_SERVER = """
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the other servers
    def log_message(self, *args):
        pass
    def translate_path(self, path):  # the query is part of the file name: one file per route
        import hashlib
        return super().translate_path("/" + hashlib.sha1(path.encode()).hexdigest())

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])),
                                functools.partial(Handler, directory=sys.argv[1])).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict, log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """A server, its output to ``log`` (waitress warns at every queued request: a pipe nobody read
    would fill and stop it). ``cwd`` is the checkout: ``python -m`` imports from it first."""
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=handle)
    proc.log = log
    return proc


def wait(proc: subprocess.Popen, url: str) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"a server stopped: {proc.log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, clients: int, seconds: float, script: str) -> dict:
    done = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", script, url],
                          capture_output=True, text=True, timeout=seconds + 60)
    lines = [li for li in done.stdout.splitlines() if li.startswith("RESULT")]
    if not lines:
        raise RuntimeError(f"wrk failed on {url}: {done.stdout[-1000:]} {done.stderr[-1000:]}")
    line = lines[0]
    p50, p95, requests, duration_us, errors = line.split()[1:]
    if int(requests) == 0:  # no answer in the whole run (a server that stopped accepting connections)
        return {"p50_ms": float("inf"), "p95_ms": float("inf"), "rps": 0.0, "errors": int(errors)}
    return {"p50_ms": float(p50) * 1000, "p95_ms": float(p95) * 1000,
            "rps": int(requests) / (int(duration_us) / 1e6), "errors": int(errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=32, help="server threads (gapmap serve's default: 32)")
    parser.add_argument("--baseline", type=Path, help="another Gapmap checkout (e.g. /work/main) served as well, "
                                                       "to compare before and after in the same run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")
    if args.clients > 200:
        parser.error("at most 200 clients: this is a bounded test")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    work = Path(tempfile.mkdtemp(prefix="gapmap-bench-light-"))
    try:
        ports = {"gapmap": free_port(), "waitress static": free_port(), "http.server static": free_port()}
        gapmap = start([sys.executable, "-m", "geo.cli", "serve", "--host", HOST, "--port", str(ports["gapmap"]),
                        "--threads", str(args.threads)], env, work / "gapmap.log")
        procs.append(gapmap)
        servers = {"gapmap": gapmap}
        wait(gapmap, f"http://{HOST}:{ports['gapmap']}/api/indicators")
        if args.baseline:
            ports["gapmap baseline"] = free_port()
            baseline = start([sys.executable, "-m", "geo.cli", "serve", "--host", HOST, "--port",
                              str(ports["gapmap baseline"]), "--threads", str(args.threads)],
                             {**env, "PYTHONPATH": str(args.baseline.resolve())}, work / "baseline.log",
                             cwd=args.baseline.resolve())
            procs.append(baseline)
            servers["gapmap baseline"] = baseline
            wait(baseline, f"http://{HOST}:{ports['gapmap baseline']}/api/indicators")
        bodies = {}
        for route in ROUTES:
            with urllib.request.urlopen(f"http://{HOST}:{ports['gapmap']}{route}", timeout=60) as response:
                bodies[route] = [response.headers["Content-Type"], response.read().decode("utf-8")]
        (work / "bodies.json").write_text(json.dumps(bodies))
        files = work / "files"
        files.mkdir()
        for route, (_, body) in bodies.items():
            (files / hashlib.sha1(route.encode()).hexdigest()).write_text(body)
        scripts = {"flat out": work / "flat.lua", "users (1 request/s each)": work / "users.lua"}
        scripts["flat out"].write_text(REPORT_LUA)
        scripts["users (1 request/s each)"].write_text(THINK_LUA + REPORT_LUA)
        peers = {"waitress static": [sys.executable, "-c", textwrap.dedent(STATIC_WSGI), str(work / "bodies.json"),
                                     str(ports["waitress static"]), str(args.threads), str(CONNECTION_LIMIT)],
                 "http.server static": [sys.executable, "-c", textwrap.dedent(STATIC_HTTP_SERVER), str(files),
                                        str(ports["http.server static"])]}
        for name, command in peers.items():
            proc = start(command, env, work / f"{name.replace(' ', '-')}.log")
            procs.append(proc)
            servers[name] = proc
            wait(proc, f"http://{HOST}:{ports[name]}{ROUTES[0]}")
            with urllib.request.urlopen(f"http://{HOST}:{ports[name]}{ROUTES[0]}", timeout=10) as response:
                assert response.read().decode("utf-8") == bodies[ROUTES[0]][1], f"{name} serves other bytes"
        results: dict = {(mode, name, route): [] for mode in scripts for name in ports for route in ROUTES}
        for _ in range(args.rounds):
            for mode, script in scripts.items():
                for route in ROUTES:
                    for name, port in ports.items():
                        url = f"http://{HOST}:{port}{route}"
                        wrk(url, args.clients, 1, str(scripts["flat out"]))  # warm-up
                        before = cpu_seconds(servers[name].pid)
                        run = wrk(url, args.clients, args.seconds, str(script))
                        after = cpu_seconds(servers[name].pid)
                        answered = run["rps"] * args.seconds
                        run["cpu_us"] = (after - before) / answered * 1e6 if before is not None and answered else float("nan")
                        results[(mode, name, route)].append(run)
        print(f"{args.clients} keep-alive clients (wrk), {args.seconds:g} s x {args.rounds} rounds, paired; "
              f"server threads {args.threads}; medians over rounds")
        met = True
        for mode in scripts:
            print(f"\n== {mode}")
            for route in ROUTES:
                print(f"{route} ({len(bodies[route][1].encode()):,} bytes)")
                med = {}
                for name in ports:
                    runs = results[(mode, name, route)]
                    med[name] = {k: statistics.median(r[k] for r in runs) for k in ("p50_ms", "p95_ms", "rps", "cpu_us")}
                    errors = sum(r["errors"] for r in runs)
                    print(f"  {name:<20} p50 {med[name]['p50_ms']:7.1f} ms  p95 {med[name]['p95_ms']:7.1f} ms  "
                          f"{med[name]['rps']:7.0f} req/s  CPU {med[name]['cpu_us']:6.0f} us/request  errors {errors}")
                for peer in [p for p in ports if p != "gapmap"]:
                    print(f"  gapmap / {peer:<20} p50 {med['gapmap']['p50_ms'] / med[peer]['p50_ms']:.2f}x  "
                          f"p95 {med['gapmap']['p95_ms'] / med[peer]['p95_ms']:.2f}x  "
                          f"req/s {med['gapmap']['rps'] / max(med[peer]['rps'], 1e-9):.2f}x  "
                          f"CPU/request {med['gapmap']['cpu_us'] / med[peer]['cpu_us']:.2f}x")
                met &= med["gapmap"]["p95_ms"] < 50
        print(f"\ntarget: p95 under 50 ms at {args.clients} clients on every route: {'met' if met else 'NOT met'}")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

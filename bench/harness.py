"""Shared helpers for the benchmarks: run Python code in a fresh process and measure it."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def run_python(script: str, *args: str) -> tuple[float, float, str]:
    """Run ``script`` in a fresh interpreter; (wall seconds, peak resident GiB, stdout).

    The script's peak memory is read by the child itself (``ru_maxrss``) and printed last.
    """
    code = textwrap.dedent(script) + (
        "\nimport resource as _r\nprint('MAXRSS', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-2000:]}")
    lines = out.stdout.strip().splitlines()
    maxrss_kib = float(lines[-1].split()[1])
    return wall, maxrss_kib / 1024 ** 2, "\n".join(lines[:-1])


def median(values) -> float:
    return statistics.median(values)


def wait_for_server(proc, port: int, tries: int = 600):
    """Return ``proc`` once the server on 127.0.0.1:``port`` answers (every 0.1 s, ``tries`` times);
    kill it and raise if it never does."""
    import urllib.request

    for _ in range(tries):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


WRK_JSON = ('done = function(summary, latency, requests)\n'
            '  io.write(string.format("JSON {\\"p50_ms\\": %.1f, \\"p95_ms\\": %.1f, \\"p99_ms\\": %.1f, '
            '\\"requests\\": %d, \\"non2xx\\": %d, \\"errors\\": %d, \\"seconds\\": %.2f}\\n",\n'
            '    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,\n'
            '    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + '
            'summary.errors.write + summary.errors.timeout, summary.duration / 1e6))\nend\n')


def wrk_latency(url: str, connections: int, seconds: int, wrk: str = "wrk") -> dict:
    """``wrk`` with ``connections`` connections for ``seconds`` at ``url``, gzip accepted as a browser
    does: {p50_ms, p95_ms, p99_ms, requests, non2xx, errors (socket), seconds, rps}."""
    import json

    script = ROOT / "bench" / "results" / "percentiles.lua"
    script.parent.mkdir(exist_ok=True)
    script.write_text(WRK_JSON)
    run = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
                          "-H", "Accept-Encoding: gzip, deflate", url],
                         capture_output=True, text=True, timeout=seconds + 120)
    line = [x for x in run.stdout.splitlines() if x.startswith("JSON ")][-1]
    result = json.loads(line[5:])
    result["rps"] = result["requests"] / result["seconds"]
    return result

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

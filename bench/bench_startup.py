"""Benchmark: start-up of the `gapmap` command (issue 21 item 3), against peers in the same run.

Run by hand (not in CI):  python bench/bench_startup.py [--repeat 15]

Each command runs in a fresh interpreter, in turn (paired: one of each per round, so a busy
moment of the shared machine hits all alike), and the wall time of the whole process is taken:

* ``gapmap --help``, ``gapmap analyse --help``, ``gapmap data build --help``, ``gapmap serve --help``
  (``python -m geo.cli``, this checkout);
* peers: ``python -c pass`` (the interpreter alone) and a minimal click application with one
  command (what any click CLI pays).

Prints the median and p90 of each, and each Gapmap median as a ratio to each peer's. Target:
`gapmap --help` under 0.5 s. ``python -X importtime -m geo.cli --help`` says where the time goes.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from harness import ROOT

CLICK_APP = """
import click

@click.group()
def main():
    "A minimal click application."

@main.command()
@click.option("--name", default="x")
def hello(name):
    "Say hello."
    click.echo(name)

main(["--help"], prog_name="peer")
"""

COMMANDS = {
    "gapmap --help": [sys.executable, "-m", "geo.cli", "--help"],
    "gapmap analyse --help": [sys.executable, "-m", "geo.cli", "analyse", "--help"],
    "gapmap data build --help": [sys.executable, "-m", "geo.cli", "data", "build", "--help"],
    "gapmap serve --help": [sys.executable, "-m", "geo.cli", "serve", "--help"],
    "peer: python -c pass": [sys.executable, "-c", "pass"],
    "peer: minimal click app --help": [sys.executable, "-c", CLICK_APP],
}


def timed(command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed: {done.stderr.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for name, command in COMMANDS.items():  # one warm-up each: the file cache, not the measurement
        timed(command)
    for _ in range(args.repeat):
        for name, command in COMMANDS.items():
            times[name].append(timed(command))
    medians = {name: statistics.median(t) for name, t in times.items()}
    peers = [n for n in COMMANDS if n.startswith("peer")]
    for name, t in times.items():
        p90 = sorted(t)[min(len(t) - 1, int(0.9 * len(t)))]
        ratios = "" if name in peers else "  " + ", ".join(
            f"{medians[name] / medians[p]:.2f}x {p.removeprefix('peer: ')}" for p in peers)
        print(f"{name:<32} median {medians[name]:.3f} s  p90 {p90:.3f} s{ratios}")
    print(f"target: gapmap --help under 0.5 s: {'met' if medians['gapmap --help'] < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()

"""`gapmap --help` and every `gapmap <command> --help` answer without loading the heavy libraries
(pandas, pyarrow, geopandas, scipy, mapclassify, matplotlib, sklearn): each command imports what it
uses when it runs. A behaviour test (which modules a fresh interpreter loaded), not a timing test;
bench/bench_startup.py measures the time."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow", "geopandas", "scipy", "mapclassify", "matplotlib", "sklearn", "shapely", "libpysal",
         "esda", "folium", "flask")

CHILD = """
import io, json, sys, contextlib
import click
from geo.cli import main

def commands(group, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from commands(command, prefix + (name,))

helped = []
for args in [()] + list(commands(main)):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main.main(list(args) + ["--help"], prog_name="gapmap", standalone_mode=False)
        except SystemExit:
            pass
    assert "Usage:" in out.getvalue(), args
    helped.append(" ".join(args))
print(json.dumps({"helped": helped, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
""" % (HEAVY,)


def test_help_of_every_command_loads_no_heavy_library():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"", "serve", "analyse", "export", "data", "data build"} <= set(result["helped"])
    assert result["loaded"] == [], f"`--help` imported {sorted({m.split('.')[0] for m in result['loaded']})}"

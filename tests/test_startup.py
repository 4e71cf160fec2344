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


SERVE_CHILD = """
import json, sys
import waitress
seen = {}
def fake_serve(app, **kw):  # where waitress would start taking requests
    seen["loaded"] = sorted(m for m in %r if m in sys.modules)
waitress.serve = fake_serve
from geo.cli import main
main.main(["serve"], prog_name="gapmap", standalone_mode=False)
print(json.dumps(seen))
"""


def test_serve_loads_the_map_libraries_before_it_takes_requests(folder_fixture_store):
    """The first user after a start does not wait for mapclassify, folium and the statistics to be
    imported: `gapmap serve` imports them before waitress starts (the CLI's --help imports none)."""
    from app import SERVICE_MODULES

    env = {**os.environ, "PYTHONPATH": str(ROOT), "GAPMAP_STORE": str(folder_fixture_store.root)}
    env.pop("GAPMAP_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", SERVE_CHILD % (SERVICE_MODULES,)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["loaded"] == sorted(SERVICE_MODULES)

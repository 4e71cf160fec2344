"""The layout keeps its shape: every domain module sits in the part it belongs to, and imports run
one way (the contracts in pyproject.toml's [tool.importlinter], checked by import-linter)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = {"sources", "build", "store", "ingest", "stats", "rates", "views", "outputs"}
TOP_LEVEL = {"__init__.py", "cli.py", "settings.py", "errors.py"}


def test_geo_is_folders_that_name_the_parts():
    loose = sorted(p.name for p in (ROOT / "geo").glob("*.py") if p.name not in TOP_LEVEL)
    assert loose == [], f"modules outside the parts of geo/: {loose}"
    folders = {p.name for p in (ROOT / "geo").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == PARTS


def test_imports_run_one_way():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else ["lint-imports"]
    done = subprocess.run(command + ["--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout

"""Benchmark: what the ingest limits and sign-in cost, and how fast hostile files are refused.

Run by hand (not in CI); it writes everything it needs into a temporary folder:

    python bench/bench_limits.py [--mb 500]

Prints, each measured in a fresh process (wall time and peak resident memory):

* the line-count check made before a CSV is parsed (``GAPMAP_MAX_ROWS``) on a file of ``--mb`` MB;
* the refusal of an XLSX zip bomb (a real workbook whose sheet unpacks to ~150 MB from ~0.5 MB,
  the shape of the 4.9 MB -> 20M rows bomb of issue 11) with the default ``GAPMAP_MAX_XLSX_MB``;
* the refusal of a CSV over ``GAPMAP_MAX_ROWS`` (set to 1,000,000 for the run);
* the time per request of a static file through Flask's test client, single-user and signed in
  (the cost of the session, CSRF, host and role checks and of reading the user).

Targets: the checks cost well under a second per GB, and refusals take under a second and
under 300 MB whatever the file.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import run_python

LINES = """
import sys, time
from pathlib import Path
from geo.ingest.limits import IngestLimits
path = Path(sys.argv[1])
t = time.perf_counter()
IngestLimits().check_text_lines(path, path.name)
print(f"{time.perf_counter() - t:.3f}")
"""

REFUSE = """
import sys, time
from geo.ingest.pipeline import IngestError, IngestOptions, ingest
from geo.store.folder import Store
t = time.perf_counter()
try:
    ingest(sys.argv[1], IngestOptions(name="bench-refused"), Store(sys.argv[2]))
    print("NOT REFUSED")
except IngestError as exc:
    print(f"{time.perf_counter() - t:.3f} {exc}")
"""

REQUESTS = """
import re, sys, time, tempfile
from pathlib import Path
from app import create_app
from geo.store.accounts import Accounts
folder = Path(tempfile.mkdtemp())
book = Accounts(folder / "a.sqlite")
book.add_user("ann", "viewer", "a-password-123")
for mode, config in (("single-user", {"SINGLE_USER": True}), ("signed-in", {"ACCOUNTS": str(book.path)})):
    app = create_app({"GAPMAP_STORE": sys.argv[1], "SECRET_KEY": "bench", **config})
    client = app.test_client()
    if mode == "signed-in":
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").get_data(as_text=True)).group(1)
        client.post("/sign-in", data={"name": "ann", "password": "a-password-123", "csrf_token": token})
    client.get("/static/css/gapmap.css").close()
    t = time.perf_counter()
    for _ in range(1000):
        response = client.get("/static/css/gapmap.css")
        assert response.status_code == 200
        response.close()
    print(f"{mode} {(time.perf_counter() - t):.3f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="size of the CSV for the line-count check")
    args = parser.parse_args()
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fixture_mirror import write_mirror
    from tests.test_ingest_limits import _zip_bomb

    from geo.build.pipeline import build
    from geo.store.folder import Store

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = Store(tmp / "store")
        build(store, mirror=write_mirror(tmp / "mirror"))
        csv_path = tmp / "big.csv"
        line = b"E01000001,2024-01-01,45,M,A,123456789\n"
        with open(csv_path, "wb") as fh:
            fh.write(b"lsoa21cd,date,age,sex,ethnicity,record_id\n")
            block = line * 100_000
            for _ in range(args.mb * 1_000_000 // len(block)):
                fh.write(block)
        wall, rss, out = run_python(LINES, str(csv_path))
        size = csv_path.stat().st_size / 1e9
        print(f"line-count check, {size:.2f} GB: {float(out):.2f} s ({size / float(out):.1f} GB/s); "
              f"process {wall:.2f} s, {rss:.2f} GiB")

        bomb = _zip_bomb(tmp / "bomb.xlsx", 2_000_000)
        wall, rss, out = run_python(REFUSE, str(bomb), str(store.root))
        print(f"zip bomb ({bomb.stat().st_size / 1e6:.1f} MB): refused in {out.split()[0]} s; "
              f"process {wall:.2f} s, {rss:.2f} GiB\n  {out.split(' ', 1)[1]}")

        os.environ["GAPMAP_MAX_ROWS"] = "1000000"
        wall, rss, out = run_python(REFUSE, str(csv_path), str(store.root))
        del os.environ["GAPMAP_MAX_ROWS"]
        print(f"CSV over GAPMAP_MAX_ROWS: refused in {out.split()[0]} s; process {wall:.2f} s, {rss:.2f} GiB\n"
              f"  {out.split(' ', 1)[1]}")

        wall, rss, out = run_python(REQUESTS, str(store.root))
        for row in out.splitlines():
            mode, seconds = row.split()
            print(f"static file, {mode}: {float(seconds):.3f} ms per request (1,000 requests)")


if __name__ == "__main__":
    main()

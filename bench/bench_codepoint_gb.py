"""Benchmark: Code-Point Open at the size of all of Great Britain, read and placed in LSOAs.

Run by hand (not in CI):

    GAPMAP_MIRROR=../shared/data python bench/bench_codepoint_gb.py [--postcodes 1700000]

The mirror holds seven postcode areas (101,404 postcodes); the GB download holds about 1.7
million in some 120 area files. This writes that many postcodes as OS ships them (headerless
CSVs per area plus Doc/Code-Point_Open_Column_Headers.csv; points spread over the mirror's real
LSOA 2021 polygons, an eighth of them outside England) into a temporary folder, then times
:func:`geo.sources.loaders.read_codepoint` and :func:`geo.build.points.postcode_lsoas` (the build's two steps
for postcodes) and reports the peak resident memory. Prints a table and writes JSON to
bench/results/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import settings  # noqa: E402
from geo.sources import catalogue as sources
from geo.sources.loaders import read_codepoint, read_source  # noqa: E402
from geo.build.points import postcode_lsoas  # noqa: E402


def write_codepoint(folder: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    (folder / "Doc").mkdir(parents=True)
    (folder / "Data" / "CSV").mkdir(parents=True)
    (folder / "Doc" / "Code-Point_Open_Column_Headers.csv").write_text(
        "PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\nPostcode,Positional_quality_indicator,Eastings,Northings,Country_code,"
        "NHS_regional_HA_code,NHS_HA_code,Admin_county_code,Admin_district_code,Admin_ward_code\n")
    east = rng.integers(85_000, 655_000, n)
    north = rng.integers(10_000, 1_200_000, n)
    areas = [f"{a}{b}" for a in "ABCDEFGHKLMNOPRSTW" for b in "ABCDEFG"][:120]
    area = rng.integers(0, len(areas), n)
    frame = pd.DataFrame({"pc": [f"{areas[a]}{i % 99} {i % 9}{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}"
                                 for i, a in enumerate(area)],
                          "pq": 10, "ea": east, "no": north, "cy": "E92000001", "rh": "", "lh": "", "cc": "",
                          "dc": "E06000001", "wc": "E05000001", "area": area})
    for a, part in frame.groupby("area"):
        part.drop(columns="area").to_csv(folder / "Data" / "CSV" / f"{areas[a].lower()}.csv", header=False,
                                         index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postcodes", type=int, default=1_700_000)
    args = parser.parse_args()
    mirror = settings.mirror_dir()
    if mirror is None:
        sys.exit("set GAPMAP_MIRROR to the data mirror (the LSOA polygons are read from it)")
    lsoas = read_source(sources.get("lsoa21_boundaries"), mirror=mirror)
    lsoas = lsoas[lsoas["lsoa21cd"].str.startswith("E")][["lsoa21cd", "geometry"]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "codepo_gb"
        write_codepoint(folder, args.postcodes)
        t0 = time.perf_counter()
        codepoint = read_codepoint(sources.get("codepoint_open"), folder)
        t1 = time.perf_counter()
        table = postcode_lsoas(codepoint, lsoas)
        t2 = time.perf_counter()
    result = {"postcodes": len(codepoint), "read_s": round(t1 - t0, 2), "place_s": round(t2 - t1, 2),
              "in_english_lsoas": int(table["lsoa21cd"].notna().sum()),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(f"{'postcodes':>12} {'read s':>8} {'place s':>8} {'in England':>11} {'peak MB':>8}")
    print(f"{result['postcodes']:>12,} {result['read_s']:>8} {result['place_s']:>8} "
          f"{result['in_english_lsoas']:>11,} {result['peak_rss_mb']:>8}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"codepoint_gb_{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

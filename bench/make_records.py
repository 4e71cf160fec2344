"""Write a large SYNTHETIC SUS-shaped record file for the ingest benchmarks, in pieces.

    python bench/make_records.py --rows 100000000 --icb E54000024 --out var/ae100m.csv [--piece 10000000]

`gapmap demo-data` draws the whole file in memory (about 3 GB per 10 million rows); this writes it
piece by piece with the same generator (:func:`geo.ingest.synthetic.generate`, 1% dirty rows),
a different seed per piece and record ids that carry on from piece to piece, so the file is one
extract of distinct attendances (repeated ids only where the generator spoils them on purpose).
A ``<file>.json`` sidecar labels it synthetic, as demo-data does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from geo.ingest import synthetic
    from geo.store import open_store

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--icb", default="E54000024")
    parser.add_argument("--piece", type=int, default=10_000_000)
    parser.add_argument("--dirty", type=float, default=0.01)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    store = open_store()
    written = 0
    spoiled: dict[str, int] = {}
    with open(args.out, "wb") as fh:
        for i, start in enumerate(range(0, args.rows, args.piece)):
            rows = min(args.piece, args.rows - start)
            table, meta = synthetic.generate(store, args.icb, rows, seed=1000 + i, dirty=args.dirty)
            ids = pc.add(table["EC_Ident"], pa.scalar(start, pa.int64()))
            table = table.set_column(0, "EC_Ident", ids)
            plain = pa.table({n: table[n].cast(pa.string()) if pa.types.is_dictionary(table[n].type) else table[n]
                              for n in table.column_names})
            pacsv.write_csv(plain, fh, write_options=pacsv.WriteOptions(include_header=(i == 0)))
            written += rows
            for kind, n in meta["spoiled_rows"].items():
                spoiled[kind] = spoiled.get(kind, 0) + n
            print(f"  {written:,} rows", flush=True)
    meta.update({"rows": written, "seed": "1000 + piece", "spoiled_rows": spoiled,
                 "generator": "bench/make_records.py (gapmap demo-data in pieces)"})
    args.out.with_name(args.out.name + ".json").write_text(json.dumps(meta, indent=2))
    print(f"Wrote {written:,} SYNTHETIC attendances to {args.out}")


if __name__ == "__main__":
    main()

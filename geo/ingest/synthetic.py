"""Synthetic record-level A&E attendances for an ICB, shaped like an SUS/ECDS extract.

No public LSOA-level A&E counts exist, so demos, tests and benchmarks need made-up records that
behave like real ones. They are drawn from real inputs:

* where people live and how old they are: the ONS mid-2020 single-year-of-age population of
  each LSOA (carried to 2021 codes);
* how often each age attends: a fixed age profile (highest for under-5s and over-80s);
* a deprivation gradient: each LSOA's rate is scaled by its IoD2025 acute morbidity indicator
  (the standardised ratio of emergency admissions, 100 = England), so deprived areas attend more;
* ethnic group: drawn from the LSOA's Census 2021 ethnic mix, written as an NHS ethnic category
  code, with 5% 'Z' (not stated).

The file says it is synthetic: a sidecar ``<file>.json`` (and, for Parquet, the file's own
metadata) carries ``"synthetic": true``, which ``gapmap ingest`` reads into the dataset so that
every map and export made from it says so. With ``dirty`` > 0 that share of rows is spoiled in
the ways real extracts are: unknown, Welsh and empty LSOA codes, 2011 codes, impossible dates,
bad ages and repeated record ids.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.store.folder import Store

COLUMNS = ("EC_Ident", "Arrival_Date", "Age_At_Arrival", "Sex", "Ethnic_Category", "Der_Postcode_LSOA_2021_Code")
# attendances per person per year by single year of age (0..90+), a plausible England-like profile
_AGE_RATE = np.interp(np.arange(91), [0, 1, 4, 5, 14, 18, 24, 40, 64, 75, 85, 90],
                      [0.9, 0.7, 0.45, 0.3, 0.25, 0.38, 0.36, 0.28, 0.27, 0.38, 0.65, 0.8])
_ETHNIC_CODES = {
    "white": (["A", "B", "C"], [0.82, 0.03, 0.15]),
    "mixed": (["D", "E", "F", "G"], [0.3, 0.15, 0.3, 0.25]),
    "asian": (["H", "J", "K", "L"], [0.35, 0.35, 0.15, 0.15]),
    "black": (["M", "N", "P"], [0.3, 0.6, 0.1]),
    "other": (["R", "S"], [0.25, 0.75]),
}
GROUPS = ("asian", "black", "mixed", "white", "other")
DIRTY_KINDS = ("unknown_code", "lsoa_2011", "welsh_code", "empty_code", "bad_date", "future_date", "bad_age",
               "duplicate_id")


def generate(store: Store, icb: str, rows: int, seed: int = 1, dirty: float = 0.0,
             start: str = "2024-04-01", days: int = 365) -> tuple[pa.Table, dict]:
    """The synthetic extract as an Arrow table, and its metadata."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if not 0 <= dirty <= 0.5:
        raise ValueError("dirty must be between 0 and 0.5")
    rng = np.random.default_rng(seed)
    lsoas = store.lsoas(icb=icb, geometry=False, columns=[
        "lsoa21cd", "acute_morbidity_indicator", *[f"ethnic_{g}_share" for g in GROUPS]])
    if lsoas.empty:
        raise ValueError(f"no LSOAs in ICB {icb!r} in the store")
    lsoas = lsoas.sort_values("lsoa21cd").reset_index(drop=True)
    pop = store.population_by_age(icb=icb).set_index("lsoa21cd").loc[lsoas["lsoa21cd"]]
    ages = pop[[c for c in pop.columns if c.startswith("age_")]].to_numpy(dtype=float)  # (L, 91)
    gradient = lsoas["acute_morbidity_indicator"].fillna(100).to_numpy(dtype=float) / 100.0
    weight = ages * _AGE_RATE[None, :] * gradient[:, None]
    cell = rng.choice(weight.size, size=rows, p=(weight / weight.sum()).ravel())
    lsoa_idx, age = np.divmod(cell, 91)
    # exact ages for the open 90+ band
    age = np.where(age == 90, 90 + rng.integers(0, 10, size=rows), age)
    female = rng.random(rows) < np.where(age >= 80, 0.6, 0.5)
    sex = np.where(female, "2", "1").astype(object)
    sex[rng.random(rows) < 0.002] = "9"
    shares = lsoas[[f"ethnic_{g}_share" for g in GROUPS]].fillna(0).to_numpy()
    shares = shares / shares.sum(axis=1, keepdims=True)
    cum = np.cumsum(shares, axis=1)
    group = (rng.random(rows)[:, None] > cum[lsoa_idx]).sum(axis=1).clip(0, 4)
    ethnic = np.empty(rows, dtype=object)
    for g, name in enumerate(GROUPS):
        pick = group == g
        letters, p = _ETHNIC_CODES[name]
        ethnic[pick] = rng.choice(letters, size=int(pick.sum()), p=p)
    ethnic[rng.random(rows) < 0.05] = "Z"
    day0 = np.datetime64(start)
    date = (day0 + rng.integers(0, days, size=rows).astype("timedelta64[D]")).astype(str).astype(object)
    code = lsoas["lsoa21cd"].to_numpy(dtype=object)[lsoa_idx]
    ident = np.arange(1, rows + 1, dtype=np.int64) + 10_000_000
    age_text = age.astype(str).astype(object)

    spoiled = {}
    if dirty > 0:
        n_dirty = int(round(rows * dirty))
        where = rng.choice(rows, size=n_dirty, replace=False)
        kinds = rng.integers(0, len(DIRTY_KINDS), size=n_dirty)
        lookup = store.lsoa11_to_lsoa21()
        changed = lookup[lookup["lsoa11cd"] != lookup["lsoa21cd"]]
        parents = changed[changed["lsoa21cd"].isin(set(lsoas["lsoa21cd"]))]["lsoa11cd"].unique()
        for k, kind in enumerate(DIRTY_KINDS):
            rows_k = where[kinds == k]
            spoiled[kind] = int(len(rows_k))
            if kind == "unknown_code":
                code[rows_k] = "E01999999"
            elif kind == "lsoa_2011":
                if len(parents):
                    code[rows_k] = rng.choice(parents, size=len(rows_k))
            elif kind == "welsh_code":
                code[rows_k] = "W01000001"
            elif kind == "empty_code":
                code[rows_k] = ""
            elif kind == "bad_date":
                date[rows_k] = rng.choice(["2024-02-30", "31/13/2024", "unknown"], size=len(rows_k))
            elif kind == "future_date":
                date[rows_k] = "2099-01-01"
            elif kind == "bad_age":
                age_text[rows_k] = rng.choice(["-3", "abc", "150"], size=len(rows_k))
            elif kind == "duplicate_id":
                ident[rows_k] = ident[np.maximum(rows_k - 1, 0)]
    table = pa.table({
        "EC_Ident": pa.array(ident),
        "Arrival_Date": pa.array(date, pa.string()).dictionary_encode(),
        "Age_At_Arrival": pa.array(age_text, pa.string()).dictionary_encode(),
        "Sex": pa.array(sex, pa.string()).dictionary_encode(),
        "Ethnic_Category": pa.array(ethnic, pa.string()).dictionary_encode(),
        "Der_Postcode_LSOA_2021_Code": pa.array(code, pa.string()).dictionary_encode(),
    })
    meta = {
        "synthetic": True,
        "generator": "gapmap demo-data",
        "note": "SYNTHETIC DATA: made-up A&E attendances drawn from real population, deprivation and "
                "ethnicity inputs; not real activity.",
        "icb": icb, "rows": rows, "seed": seed, "dirty": dirty, "spoiled_rows": spoiled,
        "period": f"{start} + {days} days",
        "columns": list(COLUMNS),
    }
    return table, meta


def write(table: pa.Table, meta: dict, out: Path) -> Path:
    """Write CSV or Parquet (by the file's suffix) and the ``<file>.json`` sidecar."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        schema_meta = {b"gapmap:synthetic": b"true", b"gapmap:meta": json.dumps(meta).encode()}
        pq.write_table(table.replace_schema_metadata(schema_meta), out, compression="zstd")
    else:
        plain = pa.table({name: table[name].cast(pa.string()) if pa.types.is_dictionary(table[name].type)
                          else table[name] for name in table.column_names})
        pacsv.write_csv(plain, out)
    out.with_name(out.name + ".json").write_text(json.dumps(meta, indent=2))
    return out


PIECE_ROWS = 10_000_000


def write_in_pieces(store: Store, icb: str, rows: int, out: Path, seed: int = 1, dirty: float = 0.0,
                    piece: int = PIECE_ROWS, echo=None) -> tuple[Path, dict]:
    """Write a file too large to draw in memory at once (``generate`` holds about 3 GB per 10
    million rows): ``piece`` rows at a time, each drawn with the seed ``seed + piece number`` and
    record ids that carry on from the piece before, so the file is one extract of distinct
    attendances (ids repeat only where ``dirty`` repeats them on purpose). CSV or Parquet by the
    suffix, with the same sidecar as :func:`write`; memory stays that of one piece."""
    import pyarrow.compute as pc

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parquet = out.suffix.lower() == ".parquet"
    spoiled: dict[str, int] = {}
    writer = None
    meta: dict = {}
    try:
        with open(out, "wb") as fh:
            for number, start in enumerate(range(0, rows, piece)):
                size = min(piece, rows - start)
                table, meta = generate(store, icb, size, seed=seed + number, dirty=dirty)
                table = table.set_column(0, "EC_Ident", pc.add(table["EC_Ident"], pa.scalar(start, pa.int64())))
                plain = pa.table({n: table[n].cast(pa.string()) if pa.types.is_dictionary(table[n].type)
                                  else table[n] for n in table.column_names})
                if parquet:
                    if writer is None:
                        schema = plain.schema.with_metadata({b"gapmap:synthetic": b"true"})
                        writer = pq.ParquetWriter(fh, schema, compression="zstd")
                    writer.write_table(plain.replace_schema_metadata(writer.schema.metadata))
                else:
                    pacsv.write_csv(plain, fh, write_options=pacsv.WriteOptions(include_header=number == 0))
                for kind, n in meta["spoiled_rows"].items():
                    spoiled[kind] = spoiled.get(kind, 0) + n
                if echo:
                    echo(f"  {start + size:,} rows")
            if writer is not None:
                writer.close()
                writer = None
    finally:
        if writer is not None:
            writer.close()
    meta.update({"rows": rows, "seed": seed, "seeds": f"{seed} + piece number, {piece:,} rows a piece",
                 "spoiled_rows": spoiled})
    out.with_name(out.name + ".json").write_text(json.dumps(meta, indent=2))
    return out, meta

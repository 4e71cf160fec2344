"""Synthetic record-level A&E attendances for an ICB, shaped like an SUS/ECDS extract.

No public LSOA-level A&E counts exist, so demos, tests and benchmarks need made-up records that
behave like real ones. They are drawn from real inputs:

* where people live and how old they are: the ONS mid-2020 single-year-of-age population of
  each LSOA (carried to 2021 codes);
* how often each age attends: a fixed age profile (highest for under-5s and over-80s);
* a deprivation gradient: each LSOA's rate is scaled by its IoD2025 acute morbidity indicator
  (the standardised ratio of emergency admissions, 100 = England), so deprived areas attend more;
* ethnic group: drawn from the LSOA's Census 2021 ethnic mix, written as an NHS ethnic category
  code (Asian as H, J, K, L or R: Census 2021 counts Chinese people, NHS code R, as Asian; Other
  as S), with 5% 'Z' (not stated).

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
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.errors import InvalidValue
from geo.store.folder import Store

COLUMNS = ("EC_Ident", "Arrival_Date", "Age_At_Arrival", "Sex", "Ethnic_Category", "Der_Postcode_LSOA_2021_Code")
# attendances per person per year by single year of age (0..90+), a plausible England-like profile
_AGE_RATE = np.interp(np.arange(91), [0, 1, 4, 5, 14, 18, 24, 40, 64, 75, 85, 90],
                      [0.9, 0.7, 0.45, 0.3, 0.25, 0.38, 0.36, 0.28, 0.27, 0.38, 0.65, 0.8])
_ETHNIC_CODES = {
    "white": (["A", "B", "C"], [0.82, 0.03, 0.15]),
    "mixed": (["D", "E", "F", "G"], [0.3, 0.15, 0.3, 0.25]),
    "asian": (["H", "J", "K", "R", "L"], [0.33, 0.33, 0.14, 0.07, 0.13]),  # R (Chinese) is Asian in Census 2021
    "black": (["M", "N", "P"], [0.3, 0.6, 0.1]),
    "other": (["S"], [1.0]),
}
GROUPS = ("asian", "black", "mixed", "white", "other")
DIRTY_KINDS = ("unknown_code", "lsoa_2011", "welsh_code", "empty_code", "bad_date", "future_date", "bad_age",
               "duplicate_id")


def _icb_population(store: Store, icb: str, gradient_column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The ICB's LSOAs (sorted by code: code, ``gradient_column``, ethnic shares) and their real
    mid-2020 population by single year of age 0..90+ (an LSOA x 91 array), which the records are
    drawn from."""
    lsoas = store.lsoas(icb=icb, geometry=False, columns=[
        "lsoa21cd", gradient_column, *[f"ethnic_{g}_share" for g in GROUPS]])
    if lsoas.empty:
        raise InvalidValue(f"no LSOAs in ICB {icb!r} in the store")
    lsoas = lsoas.sort_values("lsoa21cd").reset_index(drop=True)
    pop = store.population_by_age(icb=icb).set_index("lsoa21cd").loc[lsoas["lsoa21cd"]]
    return lsoas, pop[[c for c in pop.columns if c.startswith("age_")]].to_numpy(dtype=float)


def generate(store: Store, icb: str, rows: int, seed: int = 1, dirty: float = 0.0,
             start: str = "2024-04-01", days: int = 365) -> tuple[pa.Table, dict]:
    """The synthetic extract as an Arrow table, and its metadata."""
    if rows < 1:
        raise InvalidValue("rows must be at least 1")
    if not 0 <= dirty <= 0.5:
        raise InvalidValue("dirty must be between 0 and 0.5")
    rng = np.random.default_rng(seed)
    lsoas, ages = _icb_population(store, icb, "acute_morbidity_indicator")
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


# ---- indicator profiles for the health inequalities statement demo ---------------------------
# Each profile draws SYNTHETIC records of one NHS statement indicator from the ICB's real
# population (ONS mid-2020 by single year of age), real deprivation (IMD 2025 score) and real
# ethnic mix (Census 2021), with made-up but plausible gradients:
#   ages: the indicator's age range and a relative rate by single year of age;
#   deprivation: each LSOA's rate is scaled by (IMD score / the ICB's mean) ** strength, and the
#     strength grows by ``widening`` each year, so the gap widens over the three years;
#   ethnicity: relative rates by Census 2021 group (asian, black, mixed, white, other).
# The numbers are illustrations for the demo, not estimates of real rates.

def _age_curve(points: list[tuple[int, float]]) -> np.ndarray:
    xs, ys = zip(*points)
    curve = np.interp(np.arange(91), xs, ys)
    curve[(np.arange(91) < xs[0]) | (np.arange(91) > xs[-1])] = 0.0
    return curve


PROFILES = {
    "UEC01": {"measure": "Emergency admissions of children and young people under 18 (SYNTHETIC)",
              "age": _age_curve([(0, 0.16), (1, 0.09), (4, 0.05), (10, 0.035), (15, 0.05), (17, 0.06)]),
              "deprivation": 0.45, "widening": 0.12,
              "ethnic": {"asian": 1.0, "black": 1.15, "mixed": 1.35, "white": 1.0, "other": 1.1}, "female": 0.47},
    "CVD01": {"measure": "Non-elective admissions for stroke (SYNTHETIC)",
              "age": _age_curve([(18, 0.00005), (40, 0.0003), (60, 0.0018), (75, 0.006), (85, 0.013), (90, 0.016)]),
              "deprivation": 0.35, "widening": 0.0,
              "ethnic": {"asian": 1.35, "black": 1.7, "mixed": 1.1, "white": 1.0, "other": 1.2}, "female": 0.48},
    "ORA01": {"measure": "Hospital tooth extractions due to decay, children aged 10 and under (SYNTHETIC)",
              "age": _age_curve([(2, 0.0008), (5, 0.0035), (7, 0.0030), (10, 0.0015)]),
              "deprivation": 0.9, "widening": 0.05,
              "ethnic": {"asian": 1.6, "black": 1.1, "mixed": 1.2, "white": 1.0, "other": 1.4}, "female": 0.5},
    "MAT01": {"measure": "Preterm births under 37 weeks, by mother's age (SYNTHETIC)",
              "age": _age_curve([(15, 0.0006), (20, 0.0012), (30, 0.0016), (38, 0.0011), (44, 0.0003)]),
              "deprivation": 0.3, "widening": 0.0,
              "ethnic": {"asian": 1.25, "black": 1.6, "mixed": 1.15, "white": 1.0, "other": 1.1}, "female": 1.0},
}
PROFILE_YEARS = ("2022-04-01", "2023-04-01", "2024-04-01")


def generate_profile(store: Store, icb: str, code: str, seed: int = 1, scale: float = 1.0) -> tuple[pa.Table, dict]:
    """SYNTHETIC records of one statement indicator (see ``PROFILES``) over three financial years,
    in the same columns as :func:`generate`. ``scale`` multiplies the expected number of events."""
    if code not in PROFILES:
        raise InvalidValue(f"no demo profile for {code!r}; profiles: {', '.join(PROFILES)}")
    profile = PROFILES[code]
    rng = np.random.default_rng(seed)
    lsoas, ages = _icb_population(store, icb, "imd_score")
    score = lsoas["imd_score"].fillna(lsoas["imd_score"].mean()).to_numpy(dtype=float)
    relative = np.clip(score / score.mean(), 0.05, None)
    shares = lsoas[[f"ethnic_{g}_share" for g in GROUPS]].fillna(0).to_numpy()
    shares = shares / np.where(shares.sum(axis=1, keepdims=True) > 0, shares.sum(axis=1, keepdims=True), 1)
    ethnic_rate = np.array([profile["ethnic"][g] for g in GROUPS])
    parts = []
    for year, start in enumerate(PROFILE_YEARS):
        strength = profile["deprivation"] + profile["widening"] * year
        # expected events per LSOA x age x ethnic group in one year
        expected = (ages * profile["age"][None, :])[:, :, None] * (relative ** strength)[:, None, None] \
            * (shares * ethnic_rate[None, :])[:, None, :] * scale
        events = rng.poisson(expected)
        cell = np.repeat(np.arange(events.size), events.ravel())
        lsoa_idx, rest = np.divmod(cell, 91 * len(GROUPS))
        age, group = np.divmod(rest, len(GROUPS))
        day0 = np.datetime64(start)
        dates = day0 + rng.integers(0, 365, size=len(cell)).astype("timedelta64[D]")
        parts.append((lsoa_idx, age, group, dates))
    lsoa_idx = np.concatenate([p[0] for p in parts])
    age = np.concatenate([p[1] for p in parts])
    group = np.concatenate([p[2] for p in parts])
    dates = np.concatenate([p[3] for p in parts])
    rows = len(lsoa_idx)
    age = np.where(age == 90, 90 + rng.integers(0, 10, size=rows), age)
    female = rng.random(rows) < profile["female"]
    sex = np.where(female, "2", "1").astype(object)
    ethnic = np.empty(rows, dtype=object)
    for g, name in enumerate(GROUPS):
        pick = group == g
        letters, p = _ETHNIC_CODES[name]
        ethnic[pick] = rng.choice(letters, size=int(pick.sum()), p=p)
    ethnic[rng.random(rows) < 0.04] = "Z"
    table = pa.table({
        "EC_Ident": pa.array(np.arange(1, rows + 1, dtype=np.int64) + 20_000_000),
        "Arrival_Date": pa.array(dates.astype(str).astype(object), pa.string()).dictionary_encode(),
        "Age_At_Arrival": pa.array(age.astype(str).astype(object), pa.string()).dictionary_encode(),
        "Sex": pa.array(sex, pa.string()).dictionary_encode(),
        "Ethnic_Category": pa.array(ethnic, pa.string()).dictionary_encode(),
        "Der_Postcode_LSOA_2021_Code": pa.array(lsoas["lsoa21cd"].to_numpy(dtype=object)[lsoa_idx],
                                                pa.string()).dictionary_encode(),
    })
    meta = {
        "synthetic": True, "generator": "gapmap demo-data --statement", "nhs_indicator": code,
        "measure": profile["measure"],
        "note": f"SYNTHETIC DATA: made-up records for NHS statement indicator {code}, drawn from real population, "
                "deprivation and ethnicity inputs with invented gradients; not real activity.",
        "icb": icb, "rows": rows, "seed": seed, "period": f"{PROFILE_YEARS[0]} + 3 years",
        "columns": list(COLUMNS),
    }
    return table, meta
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

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


# ---- indicator files for the health inequalities statement demo -------------------------------
# Each NHS statement indicator gets a SYNTHETIC file shaped as its real data comes, matching its
# definition (geo/data/nhs_indicator_definitions.csv), drawn from the ICB's REAL population of
# the definition's ages (ONS mid-2020 by single year of age), real deprivation (IMD 2025 score)
# and real ethnic mix (Census 2021), with made-up but plausible rates and gradients:
#   UEC01  emergency admissions of children aged 0-17 (records, one row per admission)
#   ORA01  tooth extractions for decay, children aged 0-10 (records)
#   CVD01  stroke admissions (records with age and sex: rising steeply with age, higher in men)
#   MAT01  births (one row per birth: LSOA, mother's age, ethnicity, date, gestation and a preterm
#          flag, about 8% preterm, more in deprived areas), ingested with the outcome flag
#   RES02  flu vaccination uptake per LSOA (vaccinated and eligible, about 70%, lower where deprived)
#   CVD03  blood pressure control per GP practice (numerator, denominator), with a SYNTHETIC
#          registrations file in NHS England's layout: each practice's patients drawn from the
#          real population of the LSOAs near it
# Record files cover three financial years; deprivation scales each LSOA's rate by
# (IMD score / the ICB's mean) ** strength, and the strength grows by ``widening`` a year.
# The numbers are illustrations for the demo, not estimates of real rates.

def _age_curve(points: list[tuple[int, float]]) -> np.ndarray:
    xs, ys = zip(*points)
    curve = np.interp(np.arange(91), xs, ys)
    curve[(np.arange(91) < xs[0]) | (np.arange(91) > xs[-1])] = 0.0
    return curve


ADMISSION_COLUMNS = ("Spell_ID", "Admission_Date", "Age_On_Admission", "Sex", "Ethnic_Category",
                     "Der_Postcode_LSOA_2021_Code")
BIRTH_COLUMNS = ("Birth_ID", "Birth_Date", "Mother_Age", "Ethnic_Category", "LSOA_2021_Code", "Gestation_Weeks",
                 "Preterm")
FLU_COLUMNS = ("LSOA21CD", "Season", "Vaccinated", "Eligible")
PRACTICE_COLUMNS = ("Practice_Code", "Practice_Name", "Numerator", "Denominator")
REGISTRATION_COLUMNS = ("PUBLICATION", "EXTRACT_DATE", "PRACTICE_CODE", "PRACTICE_NAME", "LSOA_CODE", "SEX",
                        "NUMBER_OF_PATIENTS")
DEMO_COLUMN_SETS = (COLUMNS, ADMISSION_COLUMNS, BIRTH_COLUMNS, FLU_COLUMNS, PRACTICE_COLUMNS)

# record profiles: relative rate by single year of age (zero outside the indicator's ages), the
# deprivation gradient and its widening, relative rates by ethnic group, men's rate over women's
PROFILES = {
    "UEC01": {"measure": "Emergency admissions of children and young people under 18 (SYNTHETIC)",
              "age": _age_curve([(0, 0.16), (1, 0.09), (4, 0.05), (10, 0.035), (15, 0.05), (17, 0.06)]),
              "deprivation": 0.45, "widening": 0.12,
              "ethnic": {"asian": 1.0, "black": 1.15, "mixed": 1.35, "white": 1.0, "other": 1.1}, "male_ratio": 1.13},
    "CVD01": {"measure": "Non-elective admissions for stroke (SYNTHETIC)",
              # about 1.6 in 10,000 a year at 40, 1 in 110 at 80: more than doubling every decade
              "age": _age_curve([(18, 0.00002), (30, 0.00005), (40, 0.00016), (50, 0.0005), (60, 0.0013),
                                 (70, 0.0032), (80, 0.0088), (90, 0.0175)]),
              "deprivation": 0.35, "widening": 0.0,
              "ethnic": {"asian": 1.35, "black": 1.7, "mixed": 1.1, "white": 1.0, "other": 1.2}, "male_ratio": 1.35},
    "ORA01": {"measure": "Hospital tooth extractions due to decay, children aged 10 and under (SYNTHETIC)",
              "age": _age_curve([(2, 0.0008), (5, 0.0035), (7, 0.0030), (10, 0.0015)]),
              "deprivation": 0.9, "widening": 0.05,
              "ethnic": {"asian": 1.6, "black": 1.1, "mixed": 1.2, "white": 1.0, "other": 1.4}, "male_ratio": 1.0},
}
# births per resident by single year of age (about half of residents are women; a TFR near 1.6)
_FERTILITY = _age_curve([(15, 0.002), (20, 0.025), (25, 0.045), (30, 0.055), (35, 0.035), (40, 0.011),
                         (44, 0.002)])
DEMO_INDICATORS = ("UEC01", "CVD01", "ORA01", "MAT01", "RES02", "CVD03")
PROFILE_YEARS = ("2022-04-01", "2023-04-01", "2024-04-01")
EXTRACT_DATE = "01JUL2025"


def _ethnic_letters(rng, group: np.ndarray, rows: int, not_stated: float) -> np.ndarray:
    ethnic = np.empty(rows, dtype=object)
    for g, name in enumerate(GROUPS):
        pick = group == g
        letters, p = _ETHNIC_CODES[name]
        ethnic[pick] = rng.choice(letters, size=int(pick.sum()), p=p)
    ethnic[rng.random(rows) < not_stated] = "Z"
    return ethnic


def _inputs(store: Store, icb: str):
    """The ICB's LSOAs, their real population by single year of age, relative deprivation and
    ethnic shares."""
    lsoas, ages = _icb_population(store, icb, "imd_score")
    score = lsoas["imd_score"].fillna(lsoas["imd_score"].mean()).to_numpy(dtype=float)
    relative = np.clip(score / score.mean(), 0.05, None)
    shares = lsoas[[f"ethnic_{g}_share" for g in GROUPS]].fillna(0).to_numpy()
    total = shares.sum(axis=1, keepdims=True)
    shares = np.where(total > 0, shares / np.where(total > 0, total, 1), 1 / len(GROUPS))
    return lsoas, ages, relative, shares


def _draw_events(rng, ages, relative, shares, age_rate, ethnic_rate, deprivation, widening, scale):
    """Poisson events per LSOA x single year of age x ethnic group for each of the three years:
    (lsoa index, age, ethnic group index, date)."""
    parts = []
    for year, start in enumerate(PROFILE_YEARS):
        strength = deprivation + widening * year
        expected = (ages * age_rate[None, :])[:, :, None] * (relative ** strength)[:, None, None] \
            * (shares * ethnic_rate[None, :])[:, None, :] * scale
        events = rng.poisson(expected)
        cell = np.repeat(np.arange(events.size), events.ravel())
        lsoa_idx, rest = np.divmod(cell, 91 * len(GROUPS))
        age, group = np.divmod(rest, len(GROUPS))
        dates = np.datetime64(start) + rng.integers(0, 365, size=len(cell)).astype("timedelta64[D]")
        parts.append((lsoa_idx, age, group, dates))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def generate_profile(store: Store, icb: str, code: str, seed: int = 1, scale: float = 1.0) -> tuple[pa.Table, dict]:
    """SYNTHETIC admission records of UEC01, CVD01 or ORA01 (see ``PROFILES``) over three financial
    years, only at the indicator's ages. ``scale`` multiplies the expected number of events."""
    if code not in PROFILES:
        raise InvalidValue(f"no record profile for {code!r}; profiles: {', '.join(PROFILES)}")
    profile = PROFILES[code]
    rng = np.random.default_rng(seed)
    lsoas, ages, relative, shares = _inputs(store, icb)
    # a rate per person of both sexes: men's share of the events follows their rate over women's
    ethnic_rate = np.array([profile["ethnic"][g] for g in GROUPS])
    lsoa_idx, age, group, dates = _draw_events(rng, ages, relative, shares, profile["age"], ethnic_rate,
                                               profile["deprivation"], profile["widening"], scale)
    rows = len(lsoa_idx)
    # single years 0..89 are exact; the open 90+ column is spread over 90-99 (outside any
    # indicator that stops before 90: none of the record profiles do)
    age = np.where(age == 90, 90 + rng.integers(0, 10, size=rows), age)
    male = rng.random(rows) < profile["male_ratio"] / (1 + profile["male_ratio"])
    sex = np.where(male, "1", "2").astype(object)
    table = pa.table({
        "Spell_ID": pa.array(np.arange(1, rows + 1, dtype=np.int64) + 20_000_000),
        "Admission_Date": pa.array(dates.astype(str).astype(object), pa.string()).dictionary_encode(),
        "Age_On_Admission": pa.array(age.astype(str).astype(object), pa.string()).dictionary_encode(),
        "Sex": pa.array(sex, pa.string()).dictionary_encode(),
        "Ethnic_Category": pa.array(_ethnic_letters(rng, group, rows, 0.04), pa.string()).dictionary_encode(),
        "Der_Postcode_LSOA_2021_Code": pa.array(lsoas["lsoa21cd"].to_numpy(dtype=object)[lsoa_idx],
                                                pa.string()).dictionary_encode(),
    })
    meta = _label(code, profile["measure"], icb, rows, seed, f"{PROFILE_YEARS[0]} + 3 years", ADMISSION_COLUMNS,
                  "admission records")
    return table, meta


def _label(code, measure, icb, rows, seed, period, columns, what) -> dict:
    return {"synthetic": True, "generator": "gapmap demo-data --indicators", "nhs_indicator": code,
            "measure": measure,
            "note": f"SYNTHETIC DATA: made-up {what} for NHS statement indicator {code}, drawn from real population, "
                    "deprivation and ethnicity inputs with invented rates and gradients; not real activity.",
            "icb": icb, "rows": int(rows), "seed": seed, "period": period, "columns": list(columns)}


def generate_births(store: Store, icb: str, seed: int = 1, preterm: float = 0.08) -> tuple[pa.Table, dict]:
    """SYNTHETIC births (MAT01): one row per birth over three financial years, from the real
    residents aged 15-44 of each LSOA; about ``preterm`` of them before 37 weeks, more in deprived
    LSOAs and among Black and Asian mothers."""
    rng = np.random.default_rng(seed)
    lsoas, ages, relative, shares = _inputs(store, icb)
    lsoa_idx, age, group, dates = _draw_events(rng, ages, relative, shares, _FERTILITY, np.ones(len(GROUPS)),
                                               0.1, 0.0, 1.0)
    rows = len(lsoa_idx)
    ethnic_risk = np.array([1.25, 1.5, 1.1, 1.0, 1.1])[group]  # GROUPS order: asian, black, mixed, white, other
    risk = relative[lsoa_idx] ** 0.35 * ethnic_risk * np.where((age < 20) | (age >= 40), 1.25, 1.0)
    p = np.clip(preterm * risk / max(risk.mean(), 1e-9), 0.005, 0.5)
    early = rng.random(rows) < p
    weeks = np.where(early, rng.choice(np.arange(24, 37), size=rows, p=_PRETERM_WEEKS),
                     rng.choice(np.arange(37, 43), size=rows, p=[0.12, 0.22, 0.3, 0.24, 0.1, 0.02]))
    table = pa.table({
        "Birth_ID": pa.array(np.arange(1, rows + 1, dtype=np.int64) + 50_000_000),
        "Birth_Date": pa.array(dates.astype(str).astype(object), pa.string()).dictionary_encode(),
        "Mother_Age": pa.array(age.astype(str).astype(object), pa.string()).dictionary_encode(),
        "Ethnic_Category": pa.array(_ethnic_letters(rng, group, rows, 0.03), pa.string()).dictionary_encode(),
        "LSOA_2021_Code": pa.array(lsoas["lsoa21cd"].to_numpy(dtype=object)[lsoa_idx], pa.string()).dictionary_encode(),
        "Gestation_Weeks": pa.array(weeks.astype(np.int64)),
        "Preterm": pa.array(np.where(early, "Y", "N").astype(object), pa.string()).dictionary_encode(),
    })
    meta = _label("MAT01", "Births before 37 weeks of gestation (SYNTHETIC)", icb, rows, seed,
                  f"{PROFILE_YEARS[0]} + 3 years", BIRTH_COLUMNS, "births (one row per birth, with a preterm flag)")
    meta["preterm_share"] = round(float(early.mean()), 4) if rows else None
    return table, meta


# most preterm births are late preterm (32-36 weeks)
_PRETERM_WEEKS = np.array([1, 1, 1, 1.5, 1.5, 2, 2.5, 3, 4, 6, 10, 16, 26], dtype=float)
_PRETERM_WEEKS /= _PRETERM_WEEKS.sum()


def _flu_eligible(ages: np.ndarray) -> np.ndarray:
    """People eligible for flu vaccination per LSOA: everyone 65+, children 2-16 (the children's
    programme) and about 15% of those 17-64 (clinical risk groups, pregnancy, carers)."""
    return ages[:, 65:].sum(axis=1) + ages[:, 2:17].sum(axis=1) + 0.15 * ages[:, 17:65].sum(axis=1)


def generate_flu(store: Store, icb: str, seed: int = 1) -> tuple[pa.Table, dict]:
    """SYNTHETIC flu vaccination uptake (RES02) per LSOA and season: the eligible (from the real
    population by age) and the vaccinated, about 70% overall and lower in deprived LSOAs."""
    rng = np.random.default_rng(seed)
    lsoas, ages, relative, _ = _inputs(store, icb)
    eligible = np.round(_flu_eligible(ages)).astype(np.int64)
    frames = []
    for k, start in enumerate(PROFILE_YEARS):
        year = int(start[:4])
        uptake = np.clip(0.70 + 0.02 * (k - 1) - 0.12 * np.log(relative), 0.3, 0.95)
        vaccinated = rng.binomial(eligible, uptake)
        frames.append(pd.DataFrame({"LSOA21CD": lsoas["lsoa21cd"], "Season": f"{year}/{(year + 1) % 100:02d}",
                                    "Vaccinated": vaccinated, "Eligible": eligible}))
    frame = pd.concat(frames, ignore_index=True)
    meta = _label("RES02", "People vaccinated against flu, of those eligible (SYNTHETIC)", icb, len(frame), seed,
                  "flu seasons " + ", ".join(frame["Season"].unique()), FLU_COLUMNS,
                  "flu vaccination counts (vaccinated and eligible per LSOA and season)")
    meta["uptake"] = round(float(frame["Vaccinated"].sum() / max(frame["Eligible"].sum(), 1)), 4)
    return pa.Table.from_pandas(frame, preserve_index=False), meta


def generate_registrations(store: Store, icb: str, seed: int = 1, reach_km: float = 2.5) -> tuple[pa.Table, dict]:
    """A SYNTHETIC "patients registered at a GP practice" by LSOA file, in NHS England's layout
    (gp-reg-pat-prac-lsoa-all.csv): each LSOA's real residents are registered at the ICB's GP
    practices near it (a share falling off with distance, exp(-d / ``reach_km``)), so every
    practice's list is spread over the LSOAs around it."""
    practices = store.points("gp_practices", icb=icb)
    if practices.empty:
        raise InvalidValue(f"no located GP practices in ICB {icb!r} in the store: no practice demo can be made")
    practices = practices.sort_values("practice_code").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    lsoas = store.lsoas(icb=icb, columns=["lsoa21cd"]).sort_values("lsoa21cd").reset_index(drop=True)
    pop = store.population_by_age(icb=icb).set_index("lsoa21cd").reindex(lsoas["lsoa21cd"])
    residents = pop["population_mid2020"].fillna(0).to_numpy(dtype=float)
    centres = lsoas.to_crs(27700).geometry.representative_point()
    at = practices.to_crs(27700).geometry
    d = np.hypot(centres.x.to_numpy()[:, None] - at.x.to_numpy()[None, :],
                 centres.y.to_numpy()[:, None] - at.y.to_numpy()[None, :]) / 1000.0
    pull = np.exp(-d / reach_km) * rng.uniform(0.6, 1.4, size=(1, len(practices)))  # some practices are bigger
    pull[pull < 0.01 * pull.max(axis=1, keepdims=True)] = 0.0  # nobody registers far away
    share = pull / pull.sum(axis=1, keepdims=True)
    patients = rng.poisson(residents[:, None] * share * 1.03)  # lists run a little above the residents
    li, pi = np.nonzero(patients)
    frame = pd.DataFrame({"PUBLICATION": "GP_PRAC_PAT_LIST", "EXTRACT_DATE": EXTRACT_DATE,
                          "PRACTICE_CODE": practices["practice_code"].to_numpy()[pi],
                          "PRACTICE_NAME": practices["name"].fillna("").to_numpy()[pi],
                          "LSOA_CODE": lsoas["lsoa21cd"].to_numpy()[li], "SEX": "ALL",
                          "NUMBER_OF_PATIENTS": patients[li, pi]})
    frame = frame.sort_values(["PRACTICE_CODE", "LSOA_CODE"]).reset_index(drop=True)
    meta = {"synthetic": True, "generator": "gapmap demo-data --indicators", "icb": icb, "seed": seed,
            "note": "SYNTHETIC DATA: made-up patients registered at each GP practice by LSOA, in NHS England's "
                    "gp-reg-pat-prac-lsoa-all.csv layout, drawn from the real mid-2020 residents of the LSOAs near "
                    "each practice; not NHS England's registrations.",
            "rows": int(len(frame)), "practices": int(frame["PRACTICE_CODE"].nunique()),
            "patients": int(frame["NUMBER_OF_PATIENTS"].sum()), "columns": list(REGISTRATION_COLUMNS)}
    return pa.Table.from_pandas(frame, preserve_index=False), meta


def generate_practice_values(store: Store, icb: str, registrations: pa.Table, seed: int = 1):
    """SYNTHETIC CVD03 per GP practice: patients aged 18+ with hypertension (the denominator, about
    14% of the adults registered) and those whose last blood pressure was at or under target (the
    numerator, about 65%, lower where the practice's patients are more deprived)."""
    rng = np.random.default_rng(seed)
    regs = registrations.to_pandas()
    pop = store.population_by_age(icb=icb).set_index("lsoa21cd")
    age_cols = [c for c in pop.columns if c.startswith("age_")]
    adults = pop[age_cols[18:]].sum(axis=1) / pop[age_cols].sum(axis=1).replace(0, np.nan)
    score = store.lsoas(icb=icb, geometry=False, columns=["lsoa21cd", "imd_score"]).set_index("lsoa21cd")["imd_score"]
    regs["adults"] = regs["NUMBER_OF_PATIENTS"] * adults.reindex(regs["LSOA_CODE"]).fillna(0.8).to_numpy()
    regs["score_x"] = regs["NUMBER_OF_PATIENTS"] * score.reindex(regs["LSOA_CODE"]).fillna(score.mean()).to_numpy()
    per = regs.groupby(["PRACTICE_CODE", "PRACTICE_NAME"], as_index=False)[["NUMBER_OF_PATIENTS", "adults",
                                                                            "score_x"]].sum()
    practice_score = per["score_x"] / per["NUMBER_OF_PATIENTS"].clip(lower=1)
    relative = np.clip(practice_score / practice_score.mean(), 0.05, None)
    denominator = rng.binomial(np.round(per["adults"]).astype(np.int64), 0.14)
    control = np.clip(0.65 - 0.10 * np.log(relative), 0.3, 0.9)
    numerator = rng.binomial(denominator, control)
    frame = pd.DataFrame({"Practice_Code": per["PRACTICE_CODE"], "Practice_Name": per["PRACTICE_NAME"],
                          "Numerator": numerator, "Denominator": denominator})
    meta = _label("CVD03", "Patients with hypertension whose blood pressure is at or under target (SYNTHETIC)",
                  icb, len(frame), seed, f"snapshot, registrations of {EXTRACT_DATE}", PRACTICE_COLUMNS,
                  "GP practice values (numerator and denominator per practice)")
    return pa.Table.from_pandas(frame, preserve_index=False), meta


def demo_indicators(store: Store, icb: str, codes, out: Path, seed: int = 1) -> list[dict]:
    """Write the SYNTHETIC file of each indicator in ``codes`` (``DEMO_INDICATORS``) into ``out``,
    each with its label sidecar, and say how to ingest it: a list of ``{"code", "path", "rows",
    "options"}`` where ``options`` are the :class:`IngestOptions` fields that attach it to its
    indicator (breakdowns, column roles, the registrations file)."""
    out = Path(out)
    made = []
    for code in codes:
        if code in PROFILES:
            table, meta = generate_profile(store, icb, code, seed=seed)
            options = {"by": ("age_band", "sex", "ethnic_group", "period")}
        elif code == "MAT01":
            table, meta = generate_births(store, icb, seed=seed)
            options = {"by": ("age_band", "ethnic_group", "period"),
                       "columns": {"outcome": "Preterm", "age": "Mother_Age", "date": "Birth_Date"}}
        elif code == "RES02":
            table, meta = generate_flu(store, icb, seed=seed)
            options = {"columns": {"count": "Vaccinated", "denominator": "Eligible", "period": "Season"}}
        elif code == "CVD03":
            regs, regs_meta = generate_registrations(store, icb, seed=seed)
            regs_path = write(regs, regs_meta, out / "demo_gp-reg-pat-prac-lsoa-all.csv")
            table, meta = generate_practice_values(store, icb, regs, seed=seed)
            meta["registrations"] = regs_path.name
            options = {"registrations": regs_path}
        else:
            raise InvalidValue(f"no demo profile for {code!r}; profiles: {', '.join(DEMO_INDICATORS)}")
        path = write(table, meta, out / f"demo_{code.lower()}.csv")
        made.append({"code": code, "path": path, "rows": table.num_rows, "measure": meta["measure"],
                     "options": options})
    return made


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

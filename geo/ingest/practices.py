"""GP practice data (a numerator and denominator per practice) attributed to LSOAs through the
patients registered at each practice.

Practice files are a practice code with a numerator and a denominator (CVDPREVENT, QOF and
similar extracts: shape ``practice``), or an OHID Fingertips export at GP practice level (shape
``fingertips``). A practice's patients do not all live beside its surgery, so its values are
shared among the LSOAs its registered patients live in, by NHS England's "Patients registered at
a GP practice" by LSOA (``gp-reg-pat-prac-lsoa-all.csv``, catalogued as
``gp_registrations_lsoa``; ``gapmap ingest ... --registrations FILE``). Without that file
practice data is refused: a practice's whole list is never put in one LSOA.

With it, each practice's numerator and denominator are multiplied by the share of the
practice's registered patients living in each LSOA (patients there / all the practice's
patients, including those in LSOAs outside the store and in NHS England's 'CLOSED' LSOA for
invalid postcodes), giving fractional ``count`` and ``denominator`` per LSOA in counts.parquet.
The part that falls outside the store's LSOAs is reported (``counts_outside_store``), so
``counts_stored + counts_outside_store = counts_used``.

Each practice is also kept (practices.parquet) with its numerator, denominator, value, its
registered patients and the population-weighted IMD 2025 score of its patients (weights: the
practice's patients in each LSOA x that LSOA's IMD score, as OHID's practice profiles weight
them) with the quintile of that score among practices (1 = most deprived): national when the
store covers England, else among the practices with at least 90% of their patients in the
store's LSOAs (said in ``meta["practice_imd"]``).

Every row of the file is used or listed with its reason.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.ingest import codes as C
from geo.ingest.reading import InputTable, UnreadableFile, read
from geo.ingest.report import IngestError, IngestResult, reason_summary
from geo.sources import catalogue as sources
from geo.sources.loaders import REGISTRATIONS_SOURCE, read_gp_registrations

PRACTICE_CODE = re.compile(r"^[A-Z]\d{5}$")
GP_AREA_TYPES = {"gps", "gp", "gp practice", "gp practices"}
FINGERTIPS_SOURCE = "fingertips_ae_0_4_gp"
COVERAGE_FOR_QUINTILE = 0.9  # share of a practice's patients whose LSOA has an IMD score
ENGLAND_LSOAS = 33_000  # a store with at least this many LSOAs covers England


class Registrations:
    """NHS England's patients registered at each practice, by LSOA of residence, as read."""

    def __init__(self, path: Path, frame: pd.DataFrame):
        self.path = Path(path)
        self.frame = frame
        self.synthetic = _sidecar_synthetic(self.path)

    def describe(self) -> dict:
        dates = sorted({str(d) for d in self.frame["extract_date"].dropna()})
        return {"file": self.path.name, "sha256": sources.sha256_of(self.path), "synthetic": self.synthetic,
                "extract_date": dates[-1] if dates else None,
                "practices": int(self.frame["practice_code"].nunique()),
                "patients": float(self.frame["patients"].sum()), "source": REGISTRATIONS_SOURCE}


def _sidecar_synthetic(path: Path) -> bool:
    sidecar = path.with_name(path.name + ".json")
    try:
        return bool(json.loads(sidecar.read_text()).get("synthetic")) if sidecar.exists() else False
    except (ValueError, AttributeError, OSError):
        return False


def load_registrations(given, path) -> Registrations:
    """The registrations file given with ``--registrations``, read; refused with where to get it
    when there is none."""
    source = sources.get(REGISTRATIONS_SOURCE)
    name = Path(source.path).name
    if not given:
        raise IngestError(
            f"{path}: GP practice data is shared among the LSOAs its patients live in, by NHS England's patients "
            f"registered at each practice by LSOA ({name}), and no such file was given: Gapmap never puts a "
            f"practice's whole list in its surgery's LSOA. Download the newest quarterly zip "
            f"(gp-reg-pat-prac-lsoa-2021-male-female-<month>.zip) from {source.landing}, take {name} out of it "
            f"and give it with --registrations {name}")
    try:
        return Registrations(Path(given), read_gp_registrations(Path(given)))
    except sources.SourceError as exc:
        raise IngestError(f"--registrations: {exc}") from None


def _practice_rows(info: InputTable, shape: str, mapping: dict[str, str]):
    """(frame of practice_code, practice_name, period, numerator text, denominator text, value text,
    row; reasons per row; the file column each field came from)."""
    if shape == "fingertips":
        catalogue = sources.get(FINGERTIPS_SOURCE)
        missing = [c for c in catalogue.columns if c not in info.columns]
        if missing:
            raise IngestError(f"{info.path}: not a Fingertips export: missing column(s) {', '.join(map(repr, missing))}")
        wanted = list(catalogue.columns)
    else:
        wanted = [mapping[r] for r in ("practice", "count", "denominator", "period") if r in mapping]
        if "denominator" not in mapping:
            raise IngestError(f"{info.path}: a GP practice file needs a denominator per practice (the patients on "
                              f"the register, those eligible): name it with --column denominator=NAME")
    try:
        info = read(info, wanted)
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None
    raw = info.table.to_pandas().astype(object).where(lambda f: f.notna(), "").astype(str)
    n = len(raw)
    reason = np.full(n, "", dtype=object)
    column = np.full(n, "", dtype=object)
    if shape == "fingertips":
        raw = raw.rename(columns=catalogue.columns)
        fields = {"practice_code": "Area Code", "numerator": "Count", "denominator": "Denominator",
                  "period": "Time period"}
        is_gp = raw["area_type"].str.strip().str.lower().isin(GP_AREA_TYPES).to_numpy()
        why = "not a GP practice row (Area Type " + raw["area_type"] + "): not used"
        reason = np.where(~is_gp, why.to_numpy(dtype=object), reason)
        column = np.where(~is_gp, "Area Code", column)
        no_value = (raw["value"].str.strip() == "").to_numpy() & (reason == "")
        reason[no_value], column[no_value] = "no value for this practice", "Value"
        frame = pd.DataFrame({"practice_code": raw["area_code"], "practice_name": raw["area_name"],
                              "period": raw["period"], "numerator": raw["count"], "denominator": raw["denominator"],
                              "published_value": raw["value"]})
    else:
        fields = {"practice_code": mapping["practice"], "numerator": mapping["count"],
                  "denominator": mapping["denominator"], "period": mapping.get("period", "")}
        frame = pd.DataFrame({"practice_code": raw[mapping["practice"]], "practice_name": "",
                              "period": raw[mapping["period"]] if "period" in mapping else "",
                              "numerator": raw[mapping["count"]], "denominator": raw[mapping["denominator"]],
                              "published_value": ""})
    frame["row"] = info.row_number(np.arange(n))
    return frame.reset_index(drop=True), reason, column, fields, info


def _reject(reason, column, mask, why, col):
    mask = np.asarray(mask, dtype=bool) & (reason == "")
    if isinstance(why, str):
        reason[mask] = why
    else:
        reason[mask] = np.asarray(why, dtype=object)[mask]
    column[mask] = col


def ingest_practices(info: InputTable, shape: str, mapping: dict[str, str], options, store,
                     registrations: Registrations) -> IngestResult:
    frame, reason, column, fields, info = _practice_rows(info, shape, mapping)
    definition = options.definition
    code = frame["practice_code"].str.strip().str.upper()
    frame["practice_code"] = code
    _reject(reason, column, code == "", "practice code is empty", fields["practice_code"])
    _reject(reason, column, ~code.str.match(PRACTICE_CODE.pattern),
            [f"practice code {c!r} is not a GP practice code (a letter and five digits, e.g. A81001)" for c in code],
            fields["practice_code"])
    numerator, why = C.parse_counts(frame["numerator"].to_numpy(dtype=object))
    _reject(reason, column, why != "", [w.replace("count", "numerator") for w in why], fields["numerator"])
    denominator, why = C.parse_counts(frame["denominator"].to_numpy(dtype=object))
    _reject(reason, column, why != "", [w.replace("count", "denominator") for w in why], fields["denominator"])
    _reject(reason, column, denominator == 0, "denominator is 0", fields["denominator"])
    _reject(reason, column, np.nan_to_num(denominator) < np.nan_to_num(numerator),
            "denominator is smaller than the numerator", fields["denominator"])
    live = pd.DataFrame({"code": code, "period": frame["period"].str.strip()})[reason == ""]
    first = live.reset_index().groupby(["code", "period"], sort=False)["index"].transform("first").to_numpy()
    dup = live.index.to_numpy()[live.index.to_numpy() != first]
    if len(dup):
        mask = np.zeros(len(frame), dtype=bool)
        mask[dup] = True
        text = np.full(len(frame), "", dtype=object)
        text[dup] = [f"duplicate of row {frame['row'].iloc[f]}" for f in first[live.index.to_numpy() != first]]
        _reject(reason, column, mask, text, fields["practice_code"])

    # the registrations: each practice's patients by LSOA, the LSOAs carried to the store's 2021 codes
    regs = registrations.frame
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "imd_score"])
    in_store = set(lsoas["lsoa21cd"])
    shares = _lsoa21_patients(regs, store.lsoa11_to_lsoa21(), in_store)
    totals = regs.groupby("practice_code")["patients"].sum()
    known = code.isin(totals.index).to_numpy()
    _reject(reason, column, ~known,
            [f"practice {c} is not in the registrations file ({registrations.path.name}): no registered patients to "
             f"share its values among LSOAs" for c in code], fields["practice_code"])
    total = totals.reindex(code).fillna(0).to_numpy()
    _reject(reason, column, known & (total <= 0),
            [f"practice {c} has no registered patients in the registrations file" for c in code],
            fields["practice_code"])
    here = shares[shares["in_store"]].groupby("practice_code")["patients"].sum()
    in_store_patients = here.reindex(code).fillna(0).to_numpy()
    _reject(reason, column, in_store_patients <= 0,
            [f"none of practice {c}'s {t:,.0f} registered patients live in the LSOAs this store was built for"
             for c, t in zip(code, total)], fields["practice_code"])

    used = reason == ""
    value = np.where(used, numerator / np.where(denominator > 0, denominator, np.nan) * definition.multiplier, np.nan)
    kept = frame[used].assign(numerator=numerator[used], denominator=denominator[used], value=value[used],
                              patients=total[used], patients_in_store=in_store_patients[used])
    counts, outside = _attribute(kept, shares, totals, has_period=_has_period(shape, mapping, kept))
    imd, basis = _practice_imd(shares, lsoas, totals, len(in_store))
    points = _practice_points(kept, imd, registrations, store, shape)

    rows_not_used = pd.DataFrame({"row": frame["row"][~used], "column": column[~used],
                                  "value": [_quoted(frame, fields, c, i) for c, i in
                                            zip(column[~used], np.flatnonzero(~used))],
                                  "reason": reason[~used], "used": False, "count": numerator[~used]})
    for line, text, why in info.bad_rows:
        rows_not_used.loc[len(rows_not_used)] = [line, "", text[:200], why, False, np.nan]
    rows_not_used = rows_not_used.sort_values("row", kind="stable").reset_index(drop=True)
    n_all = np.nan_to_num(numerator)
    report = {
        "rows_read": int(len(frame)) + len(info.bad_rows),
        "rows_used": int(used.sum()),
        "rows_rejected": int((~used).sum()) + len(info.bad_rows),
        "rows_flagged": 0,
        "counts_read": float(n_all.sum()),
        "counts_used": float(n_all[used].sum()),
        "counts_rejected": float(n_all[~used].sum()),
        "counts_stored": float(counts["count"].sum()) if len(counts) else 0.0,
        "counts_outside_store": outside,
        "denominators_used": float(np.nan_to_num(denominator)[used].sum()),
        "practices_used": int(kept["practice_code"].nunique()),
        "codes": {"practices": int(kept["practice_code"].nunique()),
                  "practice_lsoas": int(shares[shares["in_store"] & shares["practice_code"]
                                               .isin(set(kept["practice_code"]))].shape[0])},
        "reasons": reason_summary(rows_not_used),
        "date_range": None,
        "lsoas": int(counts["lsoa21cd"].nunique()) if len(counts) else 0,
        "breakdowns": ["period"] if "period" in counts.columns else [],
        "notes": [f"each practice's numerator and denominator are shared among the LSOAs its registered patients "
                  f"live in ({registrations.path.name}); {outside:,.1f} of the numerators fell in LSOAs outside "
                  f"this store or in NHS England's 'CLOSED' LSOA (patients with an invalid postcode)"],
    }
    result = IngestResult(report, rows_not_used, counts=counts, practices=points,
                          columns={"practice": fields["practice_code"], "count": fields["numerator"],
                                   "denominator": fields["denominator"]})
    result.meta = {"registrations": registrations.describe(),
                   "practice_imd": {"score": "IMD 2025 score of each practice's registered patients: the mean of "
                                             "their LSOAs' scores weighted by the practice's patients in each LSOA",
                                    "quintile_basis": basis}}
    if shape == "fingertips":
        names = info.table.column("Indicator Name").to_pylist() if "Indicator Name" in info.table.column_names else []
        result.measure = str(names[0]) if names else None
    return result


def _quoted(frame, fields, col, i) -> str:
    for key, name in fields.items():
        if name == col and key in frame:
            return str(frame[key].iloc[i])
    return str(frame["practice_code"].iloc[i])


def _has_period(shape, mapping, kept) -> bool:
    if shape == "practice":
        return "period" in mapping
    return kept["period"].nunique() > 1


def _lsoa21_patients(regs: pd.DataFrame, lookup: pd.DataFrame, in_store: set[str]) -> pd.DataFrame:
    """Patients per practice and LSOA 2021 (2011 codes shared by ONS's weights), with whether
    the LSOA is in the store; 'CLOSED' and unknown codes are kept, outside the store."""
    lookup = lookup[~lookup["lsoa11cd"].isin(set(lookup["lsoa21cd"]))]  # codes that changed in 2021
    eleven = regs[regs["lsoa_code"].isin(set(lookup["lsoa11cd"]))]
    spread = eleven.merge(lookup.rename(columns={"lsoa11cd": "lsoa_code"}), on="lsoa_code")
    spread = spread.assign(patients=spread["patients"] * spread["weight"])[["practice_code", "lsoa21cd", "patients"]]
    rest = regs[~regs.index.isin(eleven.index)].rename(columns={"lsoa_code": "lsoa21cd"})[
        ["practice_code", "lsoa21cd", "patients"]]
    out = pd.concat([rest, spread], ignore_index=True).groupby(["practice_code", "lsoa21cd"], as_index=False,
                                                               sort=True)["patients"].sum()
    out["lsoa21cd"] = out["lsoa21cd"].astype(str)
    out["practice_code"] = out["practice_code"].astype(str)
    out["in_store"] = out["lsoa21cd"].isin(in_store)
    return out


def _attribute(kept: pd.DataFrame, shares: pd.DataFrame, totals: pd.Series, has_period: bool):
    """Counts per LSOA (x period): each practice's numerator and denominator times the share of its
    patients living in each of the store's LSOAs. Returns (counts, numerator outside the store)."""
    here = shares[shares["in_store"]]
    share = here.assign(share=here["patients"] / totals.reindex(here["practice_code"]).to_numpy())
    cols = ["practice_code", "numerator", "denominator"] + (["period"] if has_period else [])
    joined = kept[cols].merge(share[["practice_code", "lsoa21cd", "share"]], on="practice_code", how="inner")
    joined["count"] = joined["numerator"] * joined["share"]
    joined["denominator"] = joined["denominator"] * joined["share"]
    keys = ["lsoa21cd"] + (["period"] if has_period else [])
    counts = joined.groupby(keys, sort=True, as_index=False)[["count", "denominator"]].sum()
    outside = float(kept["numerator"].sum() - joined["count"].sum())
    return counts[keys + ["count", "denominator"]], max(outside, 0.0)


def _practice_imd(shares: pd.DataFrame, lsoas: pd.DataFrame, totals: pd.Series, n_lsoas: int):
    """Each practice's population-weighted IMD 2025 score, the share of its patients whose LSOA
    has a score, and the quintile of the score among practices (1 = most deprived)."""
    score = lsoas.set_index("lsoa21cd")["imd_score"]
    s = shares.assign(score=score.reindex(shares["lsoa21cd"]).to_numpy())
    s = s[s["score"].notna()]
    weighted = (s["score"] * s["patients"]).groupby(s["practice_code"]).sum()
    covered = s.groupby("practice_code")["patients"].sum()
    out = pd.DataFrame({"imd_score": weighted / covered, "imd_coverage": covered / totals.reindex(covered.index)})
    national = n_lsoas >= ENGLAND_LSOAS
    ranked = out[out["imd_coverage"] >= COVERAGE_FOR_QUINTILE]["imd_score"]
    quintile = pd.Series(pd.NA, index=out.index, dtype="Int64")
    if len(ranked) >= 5:
        # the most deprived fifth of practices (highest scores) is quintile 1
        order = ranked.rank(method="first", ascending=False)
        quintile.loc[ranked.index] = np.ceil(order / len(ranked) * 5).clip(1, 5).astype("int64")
    out["imd_quintile"] = quintile
    if national:
        basis = (f"national: quintiles of the IMD 2025 scores of the {len(ranked):,} GP practices in the "
                 f"registrations file with at least {COVERAGE_FOR_QUINTILE:.0%} of their patients in LSOAs with a "
                 f"score (1 = most deprived fifth of practices), as OHID's practice profiles rank practices")
    else:
        basis = (f"local, not national: this store holds {n_lsoas:,} LSOAs, not all of England, so the quintiles "
                 f"are of the {len(ranked):,} practices with at least {COVERAGE_FOR_QUINTILE:.0%} of their patients "
                 f"in the store's LSOAs (1 = most deprived fifth of those practices); build the store for England "
                 f"for national quintiles")
    return out, basis


def _practice_points(kept: pd.DataFrame, imd: pd.DataFrame, registrations: Registrations, store, shape):
    """practices.parquet: one row per practice (and period) used, at its surgery where located."""
    names = registrations.frame.groupby("practice_code")["practice_name"].first()
    located = store.points("gp_practices")
    located = located.drop_duplicates("practice_code").set_index("practice_code")
    out = kept.copy()
    blank = out["practice_name"].astype(str).str.strip() == ""
    out.loc[blank, "practice_name"] = names.reindex(out.loc[blank, "practice_code"]).fillna("").to_numpy()
    out = out.join(imd, on="practice_code")
    out["published_value"] = pd.to_numeric(out["published_value"].str.replace(",", ""), errors="coerce")
    out["lsoa21cd"] = located["lsoa21cd"].reindex(out["practice_code"]).to_numpy() \
        if "lsoa21cd" in located else None
    geometry = located.geometry.reindex(out["practice_code"]).to_numpy()
    columns = ["practice_code", "practice_name", "period", "numerator", "denominator", "value", "published_value",
               "patients", "patients_in_store", "imd_score", "imd_coverage", "imd_quintile", "lsoa21cd", "row"]
    frame = out[columns].reset_index(drop=True)
    frame["lsoa21cd"] = frame["lsoa21cd"].astype(object).where(frame["lsoa21cd"].notna(), None)
    return gpd.GeoDataFrame(frame, geometry=list(geometry), crs=located.crs)


__all__ = ["Registrations", "ingest_practices", "load_registrations"]

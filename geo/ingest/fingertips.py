"""OHID Fingertips CSV exports at GP practice level, kept as practice points.

A Fingertips "all data" CSV holds England, regional, ICB, PCN and practice rows together. Rows
for GP practices (Area Type ``GPs``) are matched to the located practices in the store and kept
with their value, confidence intervals, count and denominator; every other row is listed in the
report with its reason (another area type, a practice that could not be placed, no value).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.sources import catalogue as sources
from geo.store.folder import Store
from geo.ingest.reading import InputTable, UnreadableFile, read
from geo.ingest.report import IngestError, IngestResult, reason_summary

GP_AREA_TYPES = {"gps", "gp", "gp practice", "gp practices"}


def ingest_fingertips(info: InputTable, options, store: Store):
    catalogue = sources.get("fingertips_ae_0_4_gp")
    missing = [c for c in catalogue.columns if c not in info.columns]
    if missing:
        raise IngestError(f"{info.path}: not a Fingertips export: missing column(s) {', '.join(map(repr, missing))}")
    try:
        info = read(info, list(catalogue.columns))
    except UnreadableFile as exc:
        raise IngestError(str(exc)) from None
    frame = info.table.to_pandas()
    frame = frame.astype(str).rename(columns=catalogue.columns)
    frame["row"] = info.row_number(np.arange(len(frame)))
    numbers = {c: pd.to_numeric(frame[c].str.replace(",", ""), errors="coerce")
               for c in ("value", "lower_ci95", "upper_ci95", "count", "denominator")}
    practices = store.points("gp_practices").set_index("practice_code")
    reason = pd.Series("", index=frame.index, dtype=object)
    is_gp = frame["area_type"].str.strip().str.lower().isin(GP_AREA_TYPES)
    reason[~is_gp] = "not a GP practice row (Area Type " + frame.loc[~is_gp, "area_type"] + "): not used"
    no_value = is_gp & numbers["value"].isna()
    reason[no_value & (reason == "")] = "no value for this practice"
    unplaced = is_gp & ~frame["area_code"].isin(practices.index)
    reason[unplaced & (reason == "")] = ("practice not placed on the map "
                                         "(see the build's gp_practices_not_located report)")
    used = reason == ""
    rows_not_used = pd.DataFrame({"row": frame.loc[~used, "row"], "column": "Area Code",
                                  "value": frame.loc[~used, "area_code"], "reason": reason[~used], "used": False,
                                  "count": numbers["count"][~used]})
    kept = frame[used].copy()
    for column, values in numbers.items():
        kept[column] = values[used]
    kept = kept.rename(columns={"area_code": "practice_code", "area_name": "practice_name"})
    placed = practices.loc[kept["practice_code"]]
    points = gpd.GeoDataFrame(
        kept[["practice_code", "practice_name", "period", "sex", "age", "value", "lower_ci95", "upper_ci95",
              "count", "denominator"]].reset_index(drop=True),
        geometry=placed.geometry.values, crs=practices.crs)
    points["lsoa21cd"] = placed["lsoa21cd"].to_numpy()
    points["lad24cd"] = placed["lad24cd"].to_numpy()
    counts = numbers["count"]
    report = {
        "rows_read": int(len(frame)) + len(info.bad_rows),
        "rows_used": int(used.sum()),
        "rows_rejected": int((~used).sum()) + len(info.bad_rows),
        "rows_flagged": 0,
        "counts_read": float(np.nansum(counts)),
        "counts_used": float(np.nansum(counts[used])),
        "counts_rejected": float(np.nansum(counts[~used])),
        "counts_stored": float(np.nansum(points["count"])),
        "codes": {"practices": int(used.sum())},
        "reasons": reason_summary(rows_not_used),
        "date_range": None,
        "indicator": frame["indicator_name"].iloc[0] if len(frame) else None,
    }
    for line, text, why in info.bad_rows:
        rows_not_used.loc[len(rows_not_used)] = [line, "", text[:200], why, False, np.nan]
    measure = frame["indicator_name"].iloc[0] if len(frame) else None
    return IngestResult(report, rows_not_used.reset_index(drop=True), practices=points,
                        columns={"practice": "Area Code"}, measure=measure)

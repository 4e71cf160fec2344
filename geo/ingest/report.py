"""What an ingest returns and says: the error raised when a file cannot be ingested at all, the
result (report, rows not used, counts), the reasons summarised, and the report as text."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from geo.errors import GapmapError


class IngestError(GapmapError):
    """The file cannot be ingested at all; nothing was changed."""


@dataclass
class IngestResult:
    report: dict
    rows_not_used: pd.DataFrame
    counts: pd.DataFrame | None = None
    practices: object = None
    columns: dict = field(default_factory=dict)
    measure: str | None = None
    dataset: object = None
    meta: dict | None = None


def reason_summary(rows_not_used: pd.DataFrame) -> list[dict]:
    if rows_not_used.empty:
        return []
    frame = rows_not_used.assign(n=1)
    # group reasons that differ only by the value they quote
    frame["kind"] = frame["reason"].str.replace(r"'[^']*'", "…", regex=True).str.replace(r"\d[\d-]*", "N", regex=True)
    summary = frame.groupby(["used", "column", "kind"], sort=False).agg(
        rows=("n", "sum"), counts=("count", "sum"), example=("reason", "first")).reset_index()
    return [{"used": bool(r.used), "column": r.column, "reason": r.example, "rows": int(r.rows),
             "counts": float(r.counts) if pd.notna(r.counts) else 0.0} for r in summary.itertuples()]



def format_report(report: dict, name: str) -> str:
    """The report as an analyst reads it on the terminal."""
    lines = [f"Dataset {name!r}:",
             f"  rows read {report['rows_read']:,}: used {report['rows_used']:,}, "
             f"rejected {report['rows_rejected']:,}" +
             (f" ({report['rows_flagged']:,} used rows flagged)" if report.get("rows_flagged") else ""),
             f"  counts read {report['counts_read']:,.0f} = used {report['counts_used']:,.0f} + "
             f"rejected {report['counts_rejected']:,.0f}"]
    codes = report.get("codes") or {}
    if codes:
        names = {"lsoa21": "rows with a 2021 LSOA code", "split": "2011 codes split (shared by population)",
                 "merged": "2011 codes merged (summed)", "irregular": "2011 codes changed irregularly",
                 "postcode": "rows placed by postcode", "practices": "GP practices",
                 "practice_lsoas": "practice x LSOA shares", "registered_patients": "registered patients"}
        lines.append("  " + "; ".join(f"{names.get(k, k)}: {v:,}" for k, v in codes.items() if v))
    if report.get("date_range"):
        lines.append(f"  dates {report['date_range'][0]} to {report['date_range'][1]}")
    for r in report.get("reasons", []):
        what = "flagged" if r["used"] else "rejected"
        lines.append(f"  {what} {r['rows']:,} row(s) [{r['column'] or 'row'}]: {r['reason']}")
    if report.get("denominators_used") is not None:
        lines.append(f"  denominators used {report['denominators_used']:,.0f}")
    for note in report.get("notes") or []:
        lines.append(f"  note: {note}")
    rest = report.get("rows_not_listed")
    if rest:
        lines.append(f"  only the first {rest['limit']:,} rows not used are listed (GAPMAP_MAX_LISTED_ROWS); "
                     f"the other {rest['rows']:,} are counted by reason above")
    return "\n".join(lines)

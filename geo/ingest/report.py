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


MAX_VALUES_LISTED = 10


def _reason_kind(reasons: pd.Series) -> pd.Series:
    """A reason without the value it quotes or its details in brackets: the rows of one kind of
    reason are counted together ("date '2024-02-30' is not a day of the calendar (February 2024
    has 29 days)" and "date '31/13/2024' is not a day of the calendar (there is no month 13)" are
    one reason; "date 'unknown' is not a date" is another)."""
    return (reasons.str.replace(r" \([^()]*\)$", "", regex=True).str.replace(r"'[^']*'", "…", regex=True)
            .str.replace(r"\d[\d-]*", "N", regex=True))


def reason_summary(rows_not_used: pd.DataFrame) -> list[dict]:
    """The rows not used (or flagged) counted by column and kind of reason, each with the distinct
    values it was given for (the first :data:`MAX_VALUES_LISTED`, most frequent first)."""
    if rows_not_used.empty:
        return []
    frame = rows_not_used.assign(n=1)
    reason, distinct = pd.factorize(frame["reason"].astype(str))  # a few reasons, on many rows
    frame["kind"] = _reason_kind(pd.Series(distinct)).array.take(reason)
    summary = frame.groupby(["used", "column", "kind"], sort=False).agg(
        rows=("n", "sum"), counts=("count", "sum"), example=("reason", "first")).reset_index()
    quoted = summary[summary["example"].str.contains("'", regex=False)]
    per_value = {}
    if len(quoted):  # the distinct values of the reasons that quote one, counted once over all rows
        pick = frame.merge(quoted[["used", "column", "kind"]], on=["used", "column", "kind"], how="inner")
        value = (pick["value"] if "value" in pick else pd.Series("", index=pick.index)).fillna("").astype(str)
        tally = pick.assign(value_text=value).groupby(["used", "column", "kind", "value_text"], sort=False).size()
        for (used, column, kind), values in tally.groupby(level=[0, 1, 2], sort=False):
            values = values.droplevel([0, 1, 2]).sort_values(ascending=False, kind="stable")
            per_value[(used, column, kind)] = values
    out = []
    for r in summary.itertuples():
        entry = {"used": bool(r.used), "column": r.column, "reason": r.example, "rows": int(r.rows),
                 "counts": float(r.counts) if pd.notna(r.counts) else 0.0}
        values = per_value.get((r.used, r.column, r.kind))
        if values is not None:  # the reason in general, and each value it was given for
            entry["kind"] = _general_reason(r.example)
            entry["values"] = [{"value": str(v), "rows": int(n)} for v, n in values.head(MAX_VALUES_LISTED).items()]
            entry["distinct_values"] = int(len(values))
        out.append(entry)
    return out


def _general_reason(reason: str) -> str:
    """'date '2024-02-30' is not a day of the calendar (February ...)' -> 'date is not a day of the calendar'."""
    import re

    text = re.sub(r" \([^()]*\)$", "", reason)
    return re.sub(r"\s+", " ", re.sub(r" ?'[^']*'", "", text)).strip()


def _reason_line(r: dict) -> str:
    if not r.get("values"):
        return r["reason"]
    listed = ", ".join(f"{v['value']!r}" + (f" ({v['rows']:,} rows)" if v["rows"] > 1 else "") for v in r["values"])
    more = r["distinct_values"] - len(r["values"])
    return f"{r['kind']}: {listed}" + (f" and {more:,} other values" if more > 0 else "")


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
        lines.append(f"  {what} {r['rows']:,} row(s) [{r['column'] or 'row'}]: {_reason_line(r)}")
    if report.get("denominators_used") is not None:
        lines.append(f"  denominators used {report['denominators_used']:,.0f}")
    for note in report.get("notes") or []:
        lines.append(f"  note: {note}")
    rest = report.get("rows_not_listed")
    if rest:
        lines.append(f"  only the first {rest['limit']:,} rows not used are listed (GAPMAP_MAX_LISTED_ROWS); "
                     f"the other {rest['rows']:,} are counted by reason above")
    return "\n".join(lines)

"""The indicator definition an ingest stores with a dataset (``meta["definition"]``), and the
years of data its counts cover (``meta["years_of_data"]``).

The definition starts from the one shipped for the NHS statement indicator the dataset is
attached to (``--nhs-indicator``), else Gapmap's default (a crude rate per 100,000 residents of
all ages per year); every definition option given (``--measure-type``, ``--ages``, ``--sex``,
``--standardisation``, ``--multiplier`` or a ``--unit`` that says one, ``--period-type``)
overrides it, and the definition's ``source`` says which were changed. The definition is then
checked against the file: a proportion needs a denominator the data supplies (a denominator
column, an outcome flag per record, or a GP practice file's denominators).
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from geo.errors import InvalidValue
from geo.sources.indicator_definitions import IndicatorDefinition, for_indicator, parse_ages
from geo.ingest.report import IngestError

# the units --unit applies, as the multiplier they stand for ("count" is the default: no unit given)
UNITS = {"%": 100, "percent": 100, "percentage": 100, "per100": 100, "per1000": 1_000, "per10000": 10_000,
         "per100000": 100_000, "per1000000": 1_000_000, "permillion": 1_000_000}
DEFAULT_UNIT = "count"


def unit_multiplier(unit: str | None) -> int | None:
    """The multiplier a ``--unit`` stands for ('%' -> 100, 'per 100,000' -> 100000), None for the
    default ('count'); any other unit is refused: it would be a label no figure follows."""
    if unit is None or unit.strip().lower() in (DEFAULT_UNIT, ""):
        return None
    key = re.sub(r"[\s,]", "", unit.strip().lower())
    if key not in UNITS:
        raise IngestError(f"unit {unit!r} is not one Gapmap can apply: give '%', 'per 1,000', 'per 10,000', "
                          f"'per 100,000' or 'per 1,000,000', or the multiplier itself with --multiplier N "
                          f"(e.g. --multiplier 100000), with --measure-type for what the figure is")
    return UNITS[key]


def resolve(options, has_denominator: bool, level: str) -> IndicatorDefinition:
    """The definition for this ingest: shipped (or default) definition, options given over it."""
    try:
        shipped = for_indicator(options.nhs_indicator) if options.nhs_indicator else None
    except InvalidValue as exc:
        raise IngestError(str(exc)) from None
    base = shipped or IndicatorDefinition()
    given: dict = {}
    words: list[str] = []
    if options.measure_type:
        given["measure_type"] = options.measure_type
        words.append(f"measure type {options.measure_type}")
    if options.ages:
        try:
            given["age_lo"], given["age_hi"] = parse_ages(options.ages)
        except InvalidValue as exc:
            raise IngestError(str(exc)) from None
        words.append(f"ages {options.ages}")
    if options.sex:
        given["sex"] = options.sex
        words.append(f"sex {options.sex}")
    if options.standardisation:
        given["standardisation"] = options.standardisation
        words.append(f"standardisation {options.standardisation}")
    from_unit = unit_multiplier(options.unit)
    if from_unit is not None and options.multiplier is not None and from_unit != options.multiplier:
        raise IngestError(f"--unit {options.unit!r} means a multiplier of {from_unit:,}, but --multiplier is "
                          f"{options.multiplier:,}: give one of them")
    multiplier = options.multiplier if options.multiplier is not None else from_unit
    if multiplier is not None:
        given["multiplier"] = int(multiplier)
        words.append(f"multiplier {int(multiplier):,}")
    if options.period_type:
        given["period"] = options.period_type
        words.append(f"period {options.period_type}")
    if base.denominator == "residents" and has_denominator:  # the data brings its own denominator
        given["denominator"] = "registered" if level == "practice" else "supplied"
        words.append("denominator " + ("the practices' own (registered patients)" if level == "practice"
                                       else "the data's own"))
    if level != base.level:  # what the data is: per LSOA, or per GP practice shared among LSOAs
        given["level"] = level
        words.append(f"level {level}")
    if words:
        given["source"] = (f"{base.source}; changed at ingest: {', '.join(words)}" if shipped
                           else f"given at ingest: {', '.join(words)}")
    try:
        return dataclasses.replace(base, **given)
    except InvalidValue as exc:
        raise IngestError(str(exc)) from None


def with_default_standardisation(definition: IndicatorDefinition, options, counts) -> IndicatorDefinition:
    """Gapmap's default for a rate of no NHS indicator with no --standardisation given: directly
    age-standardised where the data has age bands (crude otherwise), as before definitions."""
    if options.nhs_indicator or options.standardisation or definition.measure_type != "rate":
        return definition
    if counts is None or "age_band" not in counts.columns or definition.denominator != "residents":
        return definition
    return dataclasses.replace(definition, standardisation="age", source=definition.source + (
        "; age-standardised (ESP 2013) as the data has age bands"))


def check_against_file(definition: IndicatorDefinition, path, shape: str, mapping: dict[str, str]) -> None:
    """Refuse a definition the file cannot give: a proportion with no denominator in the data, an
    outcome flag on a file of counts, an outcome flag for anything but a proportion."""
    if "outcome" in mapping and shape != "records":
        raise IngestError(f"{path}: --column outcome=NAME is for files of one row per person or event (each row "
                          f"counts in the denominator, rows with the outcome are the events); this file holds "
                          f"counts per area: give its denominator with --column denominator=NAME")
    if "outcome" in mapping and definition.measure_type != "proportion":
        raise IngestError(f"{path}: with --column outcome the rows are the denominator, so the indicator is a "
                          f"proportion: give --measure-type proportion (the definition is a {definition.measure_type})")
    has_denominator = "denominator" in mapping or "outcome" in mapping or shape in ("practice", "fingertips")
    if definition.measure_type == "proportion" and not has_denominator:
        raise IngestError(f"{path}: the indicator is a proportion ({definition.unit}), so it needs a denominator "
                          f"from the data and the file has none: name its column with --column denominator=NAME "
                          f"(counts per area), or give each record's outcome with --column outcome=NAME (one row "
                          f"per person, e.g. per birth, with yes/no)")


_YEAR = re.compile(r"^(?:FY\s*)?\d{4}(?:\s*[/-]\s*(?:\d{2}|\d{4}))?$", re.I)  # 2024/25, 2024-25, 2024
_QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
_MONTH = re.compile(r"^\d{4}-(?:0[1-9]|1[0-2])$")


def years_of_data(definition: IndicatorDefinition, counts: pd.DataFrame | None, date_range, shape: str,
                  period_unit: str) -> tuple[float | None, str]:
    """(years the data covers, how that was found): 1 for a snapshot; else the financial years (or
    years, quarters / 4, months / 12) of the period breakdown, first to last; else the records'
    first to last date in days / 365.25 (2 dp); else None (unknown)."""
    if definition.period == "snapshot":
        return 1.0, "a snapshot: not divided by time"
    if counts is not None and "period" in counts.columns and len(counts):
        labels = sorted({str(p).strip() for p in counts["period"].dropna().unique()})
        span = _period_span(labels)
        if span is not None:
            years, unit = span
            return years, (f"{labels[0]} to {labels[-1]} in the period breakdown: {years:g} year(s) of {unit}s "
                           f"(first to last, counting any with no events)")
    if date_range:
        first, last = (np.datetime64(d, "D") for d in date_range)
        days = int((last - first).astype(int)) + 1
        return round(days / 365.25, 2), f"dates {date_range[0]} to {date_range[1]}: {days:,} days / 365.25"
    return None, ("unknown: the file has no period or date column, so rates cannot be made per year; add a "
                  "period column (e.g. 2024/25) or a date column, or give --period-type snapshot")


def _period_span(labels: list[str]) -> tuple[float, str] | None:
    """Years from the first to the last period label (financial years such as 2024/25, years,
    quarters 2024-Q1, months 2024-03), or None when the labels are not periods Gapmap can read."""
    if all(_QUARTER.match(x) for x in labels):
        q = [int(x[:4]) * 4 + int(x[-1]) for x in labels]
        return round((max(q) - min(q) + 1) / 4, 2), "quarter"
    if all(_MONTH.match(x) for x in labels):
        m = [int(x[:4]) * 12 + int(x[5:7]) for x in labels]
        return round((max(m) - min(m) + 1) / 12, 2), "month"
    if all(_YEAR.match(x) for x in labels):
        y = [int(re.sub(r"^FY\s*", "", x, flags=re.I)[:4]) for x in labels]
        return float(max(y) - min(y) + 1), "financial year" if any("/" in x or "-" in x for x in labels) else "year"
    return None


__all__ = ["UNITS", "check_against_file", "resolve", "unit_multiplier", "years_of_data"]

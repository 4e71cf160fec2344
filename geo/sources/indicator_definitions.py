"""What an indicator *is*: its measure type, population at risk, standardisation, multiplier and period.

An indicator is its definition, not its formula: "emergency admissions for under 18s" divides
by residents aged 0-17 per year, "preterm under 37 weeks" by births, "flu uptake" by the people
eligible. Every dataset carries a definition (``meta["definition"]``): the one shipped for the
NHS statement indicator it is attached to (``geo/data/nhs_indicator_definitions.csv``, each row
with the source of the definition), or the one its ingest options give (``gapmap ingest
--measure-type proportion --ages 0-17 ...``), or, for data ingested before definitions existed,
the old default (a crude rate per 100,000 residents of all ages).

Fields of :class:`IndicatorDefinition`:

``measure_type``
    ``rate`` (events per population per year: Byar/exact limits, DSR with Dobson limits),
    ``proportion`` (events out of a denominator the data supplies: Wilson limits, results in %),
    ``ratio`` (a standardised ratio or an index the data supplies), or ``count``.
``age_lo``, ``age_hi``
    the ages of the population at risk, inclusive (``age_hi`` None: no upper limit): 0-17 for
    UEC01, 0-10 for ORA01, 18+ for the GP indicators.
``sex``
    ``persons``, ``male`` or ``female``: who is at risk.
``standardisation``
    ``none`` (crude), ``age`` (DSR over the ESP 2013 bands inside the age range) or ``age-sex``
    (the same within each sex, then summed over both sexes' standard weights: needs a population
    by sex, else it falls back to age alone and says so).
``multiplier``
    100,000 for rates per 100,000, 100 for percentages, 1,000,000 per million.
``denominator``
    ``residents`` (ONS estimates of the ages and sex above), ``supplied`` (a denominator column
    in the data: eligible people, births, a register), ``births`` (a supplied denominator that
    counts births) or ``registered`` (patients registered at GP practices).
``period``
    ``year`` (rates are per year: events / (population x years of data)) or ``snapshot``
    (a proportion at one point, not divided by time).
``source``
    where the definition comes from, in words a reader can follow up.
``denominator_words``
    who the denominator counts, in words ('people eligible for flu vaccination'); empty: said
    from ``denominator``, the ages and the sex.
``level``
    ``lsoa`` (data per LSOA of residence) or ``practice`` (data per GP practice, attributed to
    LSOAs through the practices' registered patients).
``higher_is_worse``
    the polarity: True for admissions, False for uptake and care processes (a positive SII then
    still means the most deprived are worse off).
"""
from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

from geo.errors import InvalidValue

PERIOD_YEARS = {"financial-year": 1.0, "year": 1.0, "quarter": 0.25, "month": 1 / 12}

PATH = Path(__file__).resolve().parents[1] / "data" / "nhs_indicator_definitions.csv"
MEASURE_TYPES = ("rate", "proportion", "ratio", "count")
STANDARDISATIONS = ("none", "age", "age-sex")
SEXES = ("persons", "male", "female")
DENOMINATORS = ("residents", "supplied", "births", "registered")
PERIODS = ("year", "snapshot")
LEVELS = ("lsoa", "practice")
AGES = re.compile(r"(\d{1,3})(?:\s*(?:-|to)\s*(\d{1,3})|\s*(\+))?")


@dataclass(frozen=True)
class IndicatorDefinition:
    measure_type: str = "rate"
    age_lo: int = 0
    age_hi: int | None = None
    sex: str = "persons"
    standardisation: str = "none"
    multiplier: int = 100_000
    denominator: str = "residents"
    period: str = "year"
    source: str = "Gapmap's default: a crude rate per 100,000 residents of all ages per year"
    denominator_words: str = ""
    level: str = "lsoa"
    higher_is_worse: bool = True

    def __post_init__(self):
        problems = []
        if self.measure_type not in MEASURE_TYPES:
            problems.append(f"measure type {self.measure_type!r}: choose {', '.join(MEASURE_TYPES)}")
        if self.standardisation not in STANDARDISATIONS:
            problems.append(f"standardisation {self.standardisation!r}: choose {', '.join(STANDARDISATIONS)}")
        if self.sex not in SEXES:
            problems.append(f"sex {self.sex!r}: choose {', '.join(SEXES)}")
        if self.denominator not in DENOMINATORS:
            problems.append(f"denominator {self.denominator!r}: choose {', '.join(DENOMINATORS)}")
        if self.level not in LEVELS:
            problems.append(f"level {self.level!r}: choose {', '.join(LEVELS)}")
        if self.period not in PERIODS:
            problems.append(f"period {self.period!r}: choose {', '.join(PERIODS)}")
        if not 0 <= self.age_lo <= 120 or (self.age_hi is not None and not self.age_lo <= self.age_hi <= 120):
            problems.append(f"ages {self.ages}: write them as 0-17, 18+ or 65-74 (youngest first)")
        if self.multiplier not in (1, 100, 1_000, 10_000, 100_000, 1_000_000):
            problems.append(f"multiplier {self.multiplier:,}: choose 1, 100 (%), 1,000, 10,000, 100,000 or 1,000,000")
        if self.measure_type == "proportion" and self.denominator == "residents":
            problems.append("a proportion needs a denominator the data supplies (eligible people, births, a "
                            "register): give its column with --column denominator=NAME")
        if self.measure_type == "proportion" and self.standardisation != "none":
            problems.append("a proportion is not standardised here: PHE's proportion methods (Wilson) are crude")
        if self.sex != "persons" and self.standardisation == "age-sex":
            problems.append(f"an indicator of {self.sex}s only is standardised by age, not by age and sex")
        if problems:
            raise InvalidValue("indicator definition: " + "; ".join(problems))

    # ---- words -------------------------------------------------------------------------------
    @property
    def all_ages(self) -> bool:
        return self.age_lo == 0 and self.age_hi is None

    @property
    def ages(self) -> str:
        if self.age_hi is None:
            return "all ages" if self.age_lo == 0 else f"{self.age_lo}+"
        return f"{self.age_lo}-{self.age_hi}"

    @property
    def population_words(self) -> str:
        """Who is at risk, e.g. 'residents aged 0-17', 'births', 'female residents aged 18+'."""
        if self.denominator_words:
            return self.denominator_words
        if self.denominator == "births":
            return "births"
        if self.denominator == "registered":
            who = "registered patients"
        elif self.denominator == "supplied":
            who = "people in the denominator"
        else:
            who = "residents"
        if self.sex != "persons":
            who = f"{self.sex} {who}"
        return who if self.all_ages else f"{who} aged {self.ages}"

    @property
    def unit(self) -> str:
        """The unit every output prints: 'per 100,000 residents aged 0-17 per year', '% of births'."""
        if self.measure_type == "proportion":
            return f"% of {self.population_words}" if self.multiplier == 100 else \
                f"per {self.multiplier:,} {self.population_words}"
        if self.measure_type == "ratio":
            return "ratio" if self.multiplier == 1 else f"ratio x {self.multiplier:,}"
        if self.measure_type == "count":
            return "events" + (" per year" if self.period == "year" else "")
        per_year = " per year" if self.period == "year" else ""
        return f"per {self.multiplier:,} {self.population_words}{per_year}"

    @property
    def headline(self) -> str:
        """The figure the definition asks for, in words: 'crude rate', 'age-standardised rate', ..."""
        if self.measure_type == "proportion":
            return "percentage" if self.multiplier == 100 else "proportion"
        if self.measure_type == "rate":
            return {"none": "crude rate", "age": "age-standardised rate",
                    "age-sex": "age-sex standardised rate"}[self.standardisation]
        return self.measure_type

    def describe(self) -> str:
        std = {"none": "crude", "age": "directly age-standardised (ESP 2013 bands within the ages)",
               "age-sex": "directly age-sex standardised (ESP 2013 bands within the ages, each sex)"}[
            self.standardisation]
        if self.measure_type == "proportion":
            return f"{self.headline} ({self.unit}), Wilson 95% limits; definition: {self.source}"
        if self.measure_type == "rate":
            return f"{std} rate {self.unit}, 95% limits (Byar/exact; Dobson for DSRs); definition: {self.source}"
        return f"{self.headline} ({self.unit}); definition: {self.source}"

    # ---- meta --------------------------------------------------------------------------------
    def to_meta(self) -> dict:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict | None) -> "IndicatorDefinition":
        """The definition a dataset's meta carries; data ingested before definitions get the old
        default (a crude rate per 100,000 residents of all ages, per year)."""
        given = (meta or {}).get("definition")
        if not given:
            return cls()
        fields = {k: v for k, v in given.items() if k in cls.__dataclass_fields__}
        if isinstance(fields.get("higher_is_worse"), str):
            fields["higher_is_worse"] = fields["higher_is_worse"].strip().lower() == "true"
        return cls(**fields)

    def with_changes(self, **changes) -> "IndicatorDefinition":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def parse_ages(text: str) -> tuple[int, int | None]:
    """'0-17' -> (0, 17); '18+' -> (18, None); '0 to 10' -> (0, 10); 'all' -> (0, None)."""
    t = (text or "").strip().lower()
    if t in ("all", "all ages", ""):
        return 0, None
    m = AGES.fullmatch(t)
    if not m:
        raise InvalidValue(f"ages {text!r}: write them as 0-17, 18+, 65-74 or all")
    lo = int(m.group(1))
    if m.group(3):
        return lo, None
    if m.group(2) is None:
        return lo, lo
    hi = int(m.group(2))
    if hi < lo:
        raise InvalidValue(f"ages {text!r}: the youngest age comes first (e.g. 0-17)")
    return lo, hi


@lru_cache(maxsize=1)
def shipped() -> dict[str, IndicatorDefinition]:
    """The definitions of the NHS statement's 23 indicators, by metric code (ELR01 ... MAT01)."""
    out = {}
    with PATH.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            lo, hi = parse_ages(row["ages"])
            out[row["metric"]] = IndicatorDefinition(
                measure_type=row["measure_type"], age_lo=lo, age_hi=hi, sex=row["sex"],
                standardisation=row["standardisation"], multiplier=int(row["multiplier"]),
                denominator=row["denominator"], period=row["period"], source=row["source"],
                denominator_words=row["denominator_words"], level=row["level"],
                higher_is_worse=row["higher_is_worse"].strip().lower() == "true")
    return out


def for_indicator(code: str | None) -> IndicatorDefinition | None:
    """The shipped definition of an NHS statement metric, or None for no metric."""
    if not code:
        return None
    try:
        return shipped()[code]
    except KeyError:
        raise InvalidValue(f"no definition shipped for NHS statement indicator {code!r}") from None


def definition_of(meta: dict, has_age: bool = False) -> IndicatorDefinition:
    """The dataset's definition: its own, else its NHS indicator's shipped one, else Gapmap's old
    default (a rate per 100,000 residents of all ages; age-standardised where it has age bands)."""
    if meta.get("definition"):
        return IndicatorDefinition.from_meta(meta)
    shipped = for_indicator(meta.get("nhs_indicator")) if meta.get("nhs_indicator") else None
    if shipped is not None:
        return shipped
    return IndicatorDefinition(standardisation="age" if has_age else "none",
                               source="Gapmap's default for data ingested without a definition: a rate per "
                                      "100,000 residents of all ages per year")


def years_of_data(meta: dict, counts, definition: IndicatorDefinition) -> tuple[float, str]:
    """How many years a dataset covers (rates are per year), and how that was found: the years
    recorded at ingest (:func:`data_years`, computed there once), else :func:`data_years` of the
    data itself, else 1 assumed (said so)."""
    if definition.period != "year" or definition.measure_type != "rate":
        return 1.0, "not divided by time (a proportion or a snapshot)"
    given = meta.get("years_of_data")
    if given is not None and float(given) > 0:
        return float(given), meta.get("years_of_data_source") or f"{float(given):g} year(s), as recorded at ingest"
    years, how = data_years(definition, counts, (meta.get("report") or {}).get("date_range"))
    if years is None:
        return 1.0, "1 year assumed: the data says nothing of its period"
    return years, how


_YEAR = re.compile(r"^(?:FY\s*)?\d{4}(?:\s*[/-]\s*(?:\d{2}|\d{4}))?$", re.I)  # 2024/25, 2024-25, 2024
_QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
_MONTH = re.compile(r"^\d{4}-(?:0[1-9]|1[0-2])$")


def data_years(definition: IndicatorDefinition, counts, date_range) -> tuple[float | None, str]:
    """(years the data covers, how that was found), the one rule ingest and every view follow: 1 for
    a snapshot; else the period breakdown's financial years (or years, quarters / 4, months / 12),
    first to last, counting any with no events; else the records' first to last date, in days /
    365.25 (a month of data is 0.0849 years, so its rate per year is annualised, and says so);
    else None (unknown)."""
    if definition.period == "snapshot":
        return 1.0, "a snapshot: not divided by time"
    if counts is not None and "period" in counts.columns and len(counts):
        labels = sorted({str(p).strip() for p in counts["period"].dropna().unique()} - {""})
        span = _period_span(labels)
        if span is not None:
            years, unit = span
            return years, (f"{labels[0]} to {labels[-1]} in the period breakdown: {years:g} year(s) of {unit}s "
                           f"(first to last, counting any with no events)")
    if date_range and date_range[0] and date_range[1]:
        import datetime as dt

        first, last = (dt.date.fromisoformat(str(d)[:10]) for d in date_range)
        days = (last - first).days + 1
        years = days / 365.25
        return years, (f"dates {date_range[0]} to {date_range[1]}: {days:,} days / 365.25"
                       + (" (under a year: the rate per year is annualised)" if days < 365 else ""))
    return None, ("unknown: the file has no period or date column, so rates cannot be made per year; add a "
                  "period column (e.g. 2024/25) or a date column, or give --period-type snapshot")


def _period_span(labels: list[str]) -> tuple[float, str] | None:
    """Years from the first to the last period label (financial years such as 2024/25, years,
    quarters 2024-Q1, months 2024-03), or None when the labels are not periods Gapmap can read."""
    if not labels:
        return None
    if all(_QUARTER.match(x) for x in labels):
        q = [int(x[:4]) * 4 + int(x[-1]) for x in labels]
        return round((max(q) - min(q) + 1) / 4, 4), "quarter"
    if all(_MONTH.match(x) for x in labels):
        m = [int(x[:4]) * 12 + int(x[5:7]) for x in labels]
        return round((max(m) - min(m) + 1) / 12, 4), "month"
    if all(_YEAR.match(x) for x in labels):
        y = [int(re.sub(r"^FY\s*", "", x, flags=re.I)[:4]) for x in labels]
        return float(max(y) - min(y) + 1), "financial year" if any("/" in x or "-" in x for x in labels) else "year"
    return None


def higher_is_worse(meta: dict) -> bool:
    """The polarity of a dataset: higher is better if its definition or its ingest says so."""
    definition = definition_of(meta, False)
    return bool(meta.get("higher_is_worse", True)) and definition.higher_is_worse


def latest_period(definition: IndicatorDefinition, counts) -> str | None:
    """The latest period of a snapshot indicator's data (flu uptake each season: the same people
    are eligible every season, so seasons are not pooled); None for indicators whose events are
    counted over every period (rates per year, births)."""
    if definition.period != "snapshot" or "period" not in counts:
        return None
    periods = sorted(str(p) for p in counts["period"].dropna().unique() if str(p))
    return periods[-1] if len(periods) > 1 else None

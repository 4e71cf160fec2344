"""Recognise the codes that activity files carry: LSOA codes, sex, ethnic group, age, dates.

Every classifier works on an array of *distinct* values (the dictionary of a column), so that
a file of ten million rows costs as much to check as its few thousand distinct values. Each
returns the normalised value and, where the value cannot be used, the reason, in words an
analyst can act on.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from geo.rates.standard_population import ESP2013, ESP_BANDS  # noqa: F401 (re-exported for ingest)
from geo.sources.postcodes import normalise_postcode, postcode_area  # noqa: F401 (re-exported for ingest)

LSOA_PATTERN = re.compile(r"^[EW]01\d{6}$")
GSS_PATTERN = re.compile(r"^[EWSNLM]\d{8}$")

# NHS Data Dictionary ETHNIC CATEGORY (2001 census based codes) -> the five high-level groups of
# Census 2021 (TS021), the denominators' groups. The 2001 codes put Chinese (R) under "Other ethnic
# groups", but Census 2021 counts Chinese people as Asian, so R is Asian here: grouping it with
# Other would divide Chinese patients by a population that leaves them out (and inflate the Other
# rate by 22-31%). S (any other ethnic group) stays Other.
NHS_ETHNIC_CATEGORY = {
    "A": "white", "B": "white", "C": "white",
    "D": "mixed", "E": "mixed", "F": "mixed", "G": "mixed",
    "H": "asian", "J": "asian", "K": "asian", "L": "asian",
    "M": "black", "N": "black", "P": "black",
    "R": "asian", "S": "other",
    "Z": "unknown", "99": "unknown",
}
ETHNIC_GROUPS = ("asian", "black", "mixed", "white", "other", "unknown")
ETHNIC_GROUP_LABELS = {
    "asian": "Asian, Asian British or Asian Welsh",
    "black": "Black, Black British, Black Welsh, Caribbean or African",
    "mixed": "Mixed or Multiple ethnic groups",
    "white": "White",
    "other": "Other ethnic group",
    "unknown": "Not stated or not known",
}
SEXES = ("male", "female", "unknown", "persons")
_SEX = {
    "1": "male", "m": "male", "male": "male", "males": "male", "man": "male",
    "2": "female", "f": "female", "female": "female", "females": "female", "woman": "female",
    "0": "unknown", "9": "unknown", "x": "unknown", "u": "unknown", "i": "unknown", "unknown": "unknown",
    "not known": "unknown", "not specified": "unknown", "indeterminate": "unknown", "": "unknown",
    "persons": "persons", "person": "persons", "all": "persons", "p": "persons", "both": "persons",
}


def clean_text(values: np.ndarray) -> np.ndarray:
    return np.array([("" if v is None else str(v)).strip() for v in values], dtype=object)


class LsoaCodes:
    """What a value in an LSOA column is, given the store's 2021 codes and the 2011->2021 lookup."""

    def __init__(self, lsoa21: set[str], lsoa11: set[str], in_scope: set[str] | None = None):
        self.lsoa21 = lsoa21
        self.lsoa11 = lsoa11 - lsoa21  # a code in both is the same, unchanged area: treat it as 2021
        self.in_scope = in_scope

    def classify(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns (code, kind, reason): kind is 'lsoa21', 'lsoa11' or '' for unusable values."""
        codes = np.array([v.upper().replace(" ", "") for v in clean_text(values)], dtype=object)
        kind = np.full(len(codes), "", dtype=object)
        reason = np.full(len(codes), "", dtype=object)
        for i, code in enumerate(codes):
            if code in self.lsoa21:
                kind[i] = "lsoa21"
            elif code in self.lsoa11:
                kind[i] = "lsoa11"
            elif not code:
                reason[i] = "LSOA code is empty"
            elif code.startswith("W01") and LSOA_PATTERN.match(code):
                reason[i] = "Welsh LSOA: Gapmap covers England only"
            elif code.startswith("E01") and LSOA_PATTERN.match(code):
                reason[i] = "unknown or retired LSOA code (neither a 2021 LSOA nor a 2011 LSOA in ONS's lookup)"
            elif GSS_PATTERN.match(code):
                reason[i] = f"not an LSOA code (a {code[:3]} code)"
            else:
                reason[i] = "not an LSOA code"
            if kind[i] == "lsoa21" and self.in_scope is not None and code not in self.in_scope:
                kind[i], reason[i] = "", "LSOA outside the area this store was built for"
        return codes, kind, reason


def classify_sex(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sex, warning): unrecognised values become 'unknown' with a warning."""
    out = np.empty(len(values), dtype=object)
    warn = np.full(len(values), "", dtype=object)
    for i, v in enumerate(clean_text(values)):
        sex = _SEX.get(v.lower())
        if sex is None:
            out[i], warn[i] = "unknown", f"sex {v!r} not recognised: counted as unknown"
        else:
            out[i] = sex
    return out, warn


def classify_ethnicity(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, warning) from NHS ethnic category codes (A-Z, 99) or Census 2021 group names.

    Chinese is Asian, as Census 2021 counts it: the code R (and its sub-codes R1 ...) and any name
    that says Chinese ('Chinese', 'Other Ethnic Groups: Chinese') are ``asian``."""
    out = np.empty(len(values), dtype=object)
    warn = np.full(len(values), "", dtype=object)
    for i, v in enumerate(clean_text(values)):
        key = v.upper()
        if key in NHS_ETHNIC_CATEGORY:
            out[i] = NHS_ETHNIC_CATEGORY[key]
            continue
        if len(key) == 2 and key[0] in NHS_ETHNIC_CATEGORY and key[0].isalpha() and key[1].isalnum():
            out[i] = NHS_ETHNIC_CATEGORY[key[0]]  # local sub-codes such as 'A1', 'CA'
            continue
        low = v.lower()
        if "chinese" in low:  # the 2001 label 'Other Ethnic Groups - Chinese' too: Asian in Census 2021
            out[i] = "asian"
            continue
        for prefix, group in (("white", "white"), ("mixed", "mixed"), ("asian", "asian"), ("black", "black"),
                              ("other", "other"), ("any other", "other"), ("not stated", "unknown"),
                              ("not known", "unknown"), ("unknown", "unknown")):
            if low.startswith(prefix):
                out[i] = group
                break
        else:
            out[i] = "unknown"
            warn[i] = ("ethnic group is empty: counted as not known" if not v
                       else f"ethnic group {v!r} not recognised: counted as not known")
    return out, warn


_BAND = re.compile(r"^(?:aged\s*)?(\d{1,3})\s*(?:-|to|–)\s*(\d{1,3})(?:\s*(?:yrs|years|y))?$", re.I)
_OPEN = re.compile(r"^(?:aged\s*)?(\d{1,3})\s*(?:\+|plus|and over|or over|years and over)(?:\s*(?:yrs|years))?$", re.I)
_UNDER = re.compile(r"^(?:aged\s*)?under\s*(\d{1,3})(?:\s*(?:yrs|years))?$", re.I)


def parse_age_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, reason) of age bands such as '0-4', '05 to 09', '90+', 'Under 5'; high is -1 for open bands."""
    lo = np.full(len(values), -1, dtype=np.int64)
    hi = np.full(len(values), -1, dtype=np.int64)
    reason = np.full(len(values), "", dtype=object)
    for i, v in enumerate(clean_text(values)):
        if m := _BAND.match(v):
            a, b = int(m.group(1)), int(m.group(2))
            if a > b or b > 120:
                reason[i] = f"age band {v!r} is not a valid range"
            else:
                lo[i], hi[i] = a, b
        elif m := _OPEN.match(v):
            lo[i] = int(m.group(1))
        elif m := _UNDER.match(v):
            lo[i], hi[i] = 0, int(m.group(1)) - 1
        elif v.isdigit():
            lo[i] = hi[i] = int(v)
        else:
            reason[i] = "age band is empty" if not v else f"age band {v!r} not recognised"
    return lo, hi, reason


def parse_age(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(age in whole years, reason) for ages in years; -1 where unusable."""
    age = np.full(len(values), -1, dtype=np.int64)
    reason = np.full(len(values), "", dtype=object)
    for i, v in enumerate(clean_text(values)):
        try:
            number = float(v)
        except ValueError:
            reason[i] = "age is empty" if not v else f"age {v!r} is not a number"
            continue
        if not np.isfinite(number) or number < 0 or number > 120:
            reason[i] = f"age {v} is out of range (0-120)"
        else:
            age[i] = int(number)
    return age, reason


def esp_band_index(age: np.ndarray) -> np.ndarray:
    """Index into :data:`ESP_BANDS` of each age (0-4 -> 0 … 90+ -> 18)."""
    return np.minimum(age // 5, 18)


def band_label(lo: int, hi: int) -> str:
    return f"{lo}+" if hi < 0 else f"{lo}-{hi}"


UK_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d",
                   "%d/%m/%y", "%d-%b-%Y", "%d %b %Y", "%d %B %Y")


def parse_dates(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(datetime64[D], reason): ISO 8601 dates and date-times, and UK day-first dates (31/03/2025,
    31-03-2025, 31.03.2025, 20250331, 31 Mar 2025). Month-first dates are not guessed."""
    text = pd.Series(clean_text(values))
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    if isinstance(parsed.dtype, np.dtype):  # no time zone: the days, filled in form by form
        days = parsed.to_numpy(dtype="datetime64[D]")
        written = (text != "").to_numpy(dtype=bool)
        for fmt in UK_DATE_FORMATS:
            todo = np.flatnonzero(np.isnat(days) & written)
            if not len(todo):
                break
            days[todo] = pd.to_datetime(text.iloc[todo], errors="coerce", format=fmt).to_numpy(dtype="datetime64[D]")
    else:
        for fmt in UK_DATE_FORMATS:
            todo = parsed.isna() & (text != "")
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(text[todo], errors="coerce", format=fmt)
        days = parsed.to_numpy(dtype="datetime64[D]")
    reason = np.array(["" if not missing else _why_not_a_date(t) for missing, t in zip(np.isnat(days), text)],
                      dtype=object)
    return days, reason


# the forms of date Gapmap reads, as (pattern, which groups are year, month, day)
_DATE_SHAPES = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$"), (1, 2, 3)),
    (re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: .*)?$"), (3, 2, 1)),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2})$"), (3, 2, 1)),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), (1, 2, 3)),
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _why_not_a_date(text: str) -> str:
    """Why ``text`` is not read as a date: empty, written like a date but not a day of the calendar
    (31/13/2024, 2024-02-30), or not a date at all ('unknown')."""
    import calendar

    if not text:
        return "date is empty"
    for pattern, (y, m, d) in _DATE_SHAPES:
        match = pattern.match(text)
        if match:
            year, month, day = (int(match.group(i)) for i in (y, m, d))
            if not 1 <= month <= 12:
                return f"date {text!r} is not a day of the calendar (there is no month {month})"
            days = calendar.monthrange(year if year > 99 else 2000 + year, month)[1]
            if not 1 <= day <= days:
                return (f"date {text!r} is not a day of the calendar ({_MONTHS[month - 1]} "
                        f"{year if year > 99 else 2000 + year} has {days} days)")
            return f"date {text!r} is written in a form Gapmap does not read (write it as 31/03/2025 or 2025-03-31)"
    return f"date {text!r} is not a date"


def parse_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count as float, reason): counts must be whole, non-negative numbers."""
    out = np.full(len(values), np.nan)
    reason = np.full(len(values), "", dtype=object)
    for i, v in enumerate(clean_text(values)):
        try:
            number = float(v.replace(",", ""))
        except ValueError:
            reason[i] = "count is empty" if not v else f"count {v!r} is not a number"
            continue
        if not np.isfinite(number):
            reason[i] = f"count {v!r} is not a number"
        elif number < 0:
            reason[i] = f"count {v} is negative"
        elif number != int(number):
            reason[i] = f"count {v} is not a whole number"
        else:
            out[i] = number
    return out, reason


def financial_year(dates: np.ndarray) -> np.ndarray:
    d = pd.DatetimeIndex(dates)
    start = np.where(d.month >= 4, d.year, d.year - 1)
    return np.array([f"{y}/{(y + 1) % 100:02d}" for y in start], dtype=object)



_OUTCOME = {"yes": True, "y": True, "1": True, "true": True, "t": True,
            "no": False, "n": False, "0": False, "false": False, "f": False}


def parse_outcome(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(1.0 where the outcome happened, 0.0 where not; reason): yes/no, Y/N, 1/0, true/false in
    any case; anything else cannot be used."""
    out = np.zeros(len(values), dtype=np.float64)
    reason = np.full(len(values), "", dtype=object)
    for i, v in enumerate(clean_text(values)):
        flag = _OUTCOME.get(v.lower())
        if flag is None:
            reason[i] = ("outcome is empty" if not v else
                         f"outcome {v!r} is not yes/no (write yes/no, Y/N, 1/0 or true/false)")
        else:
            out[i] = 1.0 if flag else 0.0
    return out, reason

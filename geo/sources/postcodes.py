"""Postcodes as join keys, shared by the build (Code-Point Open) and ingest (record postcodes)."""
from __future__ import annotations

import pandas as pd


def normalise_postcode(values: pd.Series) -> pd.Series:
    """Postcodes as a join key: upper case, no spaces ('lu1 1ab' and 'LU11AB' -> 'LU11AB')."""
    return values.astype("string").str.upper().str.replace(r"\s+", "", regex=True)


def postcode_area(keys: pd.Series) -> pd.Series:
    """The letters before the first digit: 'LU11AB' -> 'LU'."""
    return keys.astype("string").str.extract(r"^([A-Z]{1,2})", expand=False)

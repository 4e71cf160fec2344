"""The indicators NHS England's statement on health inequalities asks ICBs to report.

The list (``geo/data/nhs_statement_indicators.csv``: domain, metric code ELR01..MAT01, wording)
is the one BLMK ICB's 2024/25 statement uses. Each is reported by deprivation and ethnicity.
Gapmap holds no data for them itself: a team attaches a dataset to a metric when it ingests it
(``gapmap ingest FILE --name NAME --nhs-indicator UEC01``), and the catalogue shows which
metrics have data.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from geo.errors import InvalidValue

PATH = Path(__file__).resolve().parents[1] / "data" / "nhs_statement_indicators.csv"


@lru_cache(maxsize=1)
def catalogue() -> pd.DataFrame:
    return pd.read_csv(PATH, dtype=str)


def check(code: str) -> str:
    codes = set(catalogue()["metric"])
    if code not in codes:
        raise InvalidValue(f"unknown NHS statement indicator {code!r}; codes are {', '.join(sorted(codes))}")
    return code


def with_datasets(dataset_metas: list[dict]) -> pd.DataFrame:
    """The catalogue with the datasets attached to each metric (comma-separated names)."""
    frame = catalogue().copy()
    attached = {}
    for meta in dataset_metas:
        code = meta.get("nhs_indicator")
        if code:
            attached.setdefault(code, []).append(meta["name"])
    frame["datasets"] = frame["metric"].map(lambda c: ", ".join(attached.get(c, [])))
    return frame

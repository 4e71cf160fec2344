"""Statistical disclosure control for counts of health activity (NHS Digital's HES rules).

By default, counts from 1 to 7 are suppressed and every other count is rounded to the nearest 5;
rates and their intervals computed from a suppressed count are suppressed too. 0 is shown as 0.
A dataset can carry its own rule (``meta["disclosure"]``); open published data (IMD, the IoD
indicators) is not count data and is never suppressed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rule:
    suppress_from: int = 1
    suppress_to: int = 7
    round_to: int = 5

    def describe(self) -> str:
        return (f"Counts from {self.suppress_from} to {self.suppress_to} are suppressed, other counts rounded to the "
                f"nearest {self.round_to}; rates and intervals from suppressed counts are suppressed "
                f"(NHS Digital HES disclosure rules).")

    @classmethod
    def from_meta(cls, meta: dict | None) -> "Rule":
        given = (meta or {}).get("disclosure") or {}
        return cls(**{k: int(v) for k, v in given.items() if k in ("suppress_from", "suppress_to", "round_to")})


def suppressed(counts, rule: Rule = Rule()) -> np.ndarray:
    """True where a count must not be shown."""
    c = np.asarray(counts, dtype=float)
    return (c >= rule.suppress_from) & (c <= rule.suppress_to)


def protect_counts(counts, rule: Rule = Rule()) -> np.ndarray:
    """Counts as they may be published: suppressed ones missing, others rounded (half up)."""
    c = np.asarray(counts, dtype=float)
    rounded = np.floor(c / rule.round_to + 0.5) * rule.round_to
    return np.where(suppressed(c, rule), np.nan, rounded)


def protect_table(frame, count_column: str, derived: list[str], rule: Rule = Rule()):
    """A copy of ``frame`` with its counts protected and ``derived`` columns blanked where the count
    is suppressed."""
    out = frame.copy()
    hide = suppressed(out[count_column].to_numpy(dtype=float), rule)
    out[count_column] = protect_counts(out[count_column].to_numpy(dtype=float), rule)
    for column in derived:
        if column in out:
            out.loc[hide, column] = np.nan
    return out

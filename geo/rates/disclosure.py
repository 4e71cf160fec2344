"""Statistical disclosure control for counts of health activity (NHS Digital's HES rules).

By default, counts from 1 to 7 are suppressed and every other count is rounded to the nearest 5;
rates and their intervals computed from a suppressed count are suppressed too. 0 is shown as 0.
A dataset can carry its own rule (``meta["disclosure"]``); open published data (IMD, the IoD
indicators) is not count data and is never suppressed.

Totals over groups of LSOAs (wards, places, IMD quintiles) would let a suppressed LSOA be found
by subtraction (the ward total minus its other LSOAs). ``protect_group_counts`` applies, besides
the rule itself, *secondary suppression*: a group total is hidden where the counts of its
suppressed members add up to a count the rule would suppress; and *complementary suppression*:
where only one group of a table is hidden, the smallest other non-zero group is hidden too, so
that the hidden one cannot be had from the table's total. Rates published beside a rounded
count are computed from the rounded count (see :mod:`geo.views.map_table`), so rate x population gives
back only the published count.
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
                f"nearest {self.round_to}; rates and intervals are computed from the rounded counts, and suppressed "
                f"with them; totals over wards and other groups are suppressed too where a suppressed count could "
                f"be found by subtraction (NHS Digital HES disclosure rules).")

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


def protect_group_counts(totals, hidden_member_totals=None, rule: Rule = Rule()) -> tuple[np.ndarray, np.ndarray]:
    """Published totals of groups (rounded, missing where hidden) and the mask of hidden groups.

    ``totals``: the groups' raw counts; ``hidden_member_totals``: per group, the raw sum of its
    members' counts that are suppressed where they are published (0 or None where there are none).
    """
    t = np.asarray(totals, dtype=float)
    hide = suppressed(t, rule)
    if hidden_member_totals is not None:
        hidden = np.nan_to_num(np.asarray(hidden_member_totals, dtype=float))
        hide |= suppressed(hidden, rule)  # secondary: the subtraction would give a suppressed count
    positive = t > 0
    if hide.sum() == 1 and (positive & ~hide).any():  # complementary: not recoverable from the total
        others = np.flatnonzero(positive & ~hide)
        hide[others[np.argmin(t[others])]] = True
    rounded = np.floor(t / rule.round_to + 0.5) * rule.round_to
    return np.where(hide, np.nan, rounded), hide


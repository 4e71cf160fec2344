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

**A floor the data cannot lower.** :meth:`Rule.from_meta` never returns a rule weaker than the
server's floor (``GAPMAP_MIN_SUPPRESS``, default 7; ``GAPMAP_MIN_ROUND``, default 5): a dataset's
meta, a pack or an ingest option can make control stricter, never looser.

**Group totals are perturbed, then rounded** (:func:`publish_totals`), as ONS protected Census
2021 tables (the *cell key* method): each published total is ``round(raw + e)`` to the rule's
base, where ``e`` is a whole number drawn from a two-sided geometric (discrete Laplace)
distribution, fixed for the cell by a keyed hash (HMAC-SHA256 under a server secret) of what the
cell counts: the dataset, the set of LSOAs it sums and its breakdown (age band, sex, period).
The same cell therefore has the same published value in every table, extent and request (no
averaging over repeats), while two different cells have independent errors, so no difference of
published totals (a ward minus its LSOAs, a quintile of one ward extent minus another, the ICB
minus its wards, a re-ingest with one event changed) pins a count: the error of a difference is
unbounded, not a known range. Totals from 1 to ``suppress_to`` are hidden, and so is any total
whose perturbed value rounds below the smallest count the rule shows (10 under the HES rule), so
that a hidden total means "small", not "1 to 7"; 0 stays 0.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

NOISE_SCALE = 2.0  # discrete Laplace scale of the perturbation of group totals (sd about 2.8 events)


@dataclass(frozen=True)
class Rule:
    suppress_from: int = 1
    suppress_to: int = 7
    round_to: int = 5

    def describe(self) -> str:
        return (f"Counts from {self.suppress_from} to {self.suppress_to} are suppressed and other counts rounded to "
                f"the nearest {self.round_to} (NHS Digital HES disclosure rules); totals over wards, quintiles and "
                f"other groups are perturbed by a small keyed whole number before they are rounded (and hidden when "
                f"small), so no difference of published totals gives back a suppressed count; rates and intervals "
                f"are computed from the published counts, and hidden with them.")

    @classmethod
    def floor(cls) -> "Rule":
        """The server's minimum rule (``GAPMAP_MIN_SUPPRESS``, ``GAPMAP_MIN_ROUND``)."""
        from geo.settings import min_round, min_suppress

        return cls(1, min_suppress(), min_round())

    @classmethod
    def from_meta(cls, meta: dict | None) -> "Rule":
        """The dataset's own rule, never weaker than :meth:`floor`: a meta (from an ingest, a pack
        or an edited file) can make control stricter, not looser."""
        given = (meta or {}).get("disclosure") or {}
        own = {}
        for key in ("suppress_from", "suppress_to", "round_to"):
            try:
                own[key] = int(given[key])
            except (KeyError, TypeError, ValueError):
                continue
        floor = cls.floor()
        return cls(suppress_from=1,
                   suppress_to=max(own.get("suppress_to", floor.suppress_to), floor.suppress_to),
                   round_to=max(own.get("round_to", floor.round_to), floor.round_to))

    @property
    def smallest_shown(self) -> int:
        """The smallest positive count this rule publishes (10 under the HES rule)."""
        return int(np.ceil((self.suppress_to + 1) / self.round_to) * self.round_to)


def suppressed(counts, rule: Rule = Rule()) -> np.ndarray:
    """True where a count must not be shown: from ``suppress_from`` to ``suppress_to``, and any
    fraction in between or below (counts spread from GP practices to LSOAs are fractional)."""
    c = np.asarray(counts, dtype=float)
    return (c > rule.suppress_from - 1) & (c < rule.suppress_to + 1)


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



def cell_noise(keys, secret: bytes, scale: float = NOISE_SCALE) -> np.ndarray:
    """The perturbation of each cell: a whole number from a discrete Laplace distribution
    (P(e = k) proportional to p^|k|, p = exp(-1/scale)), the difference of two geometric draws,
    each drawn from 64 bits of HMAC-SHA256(secret, key). Deterministic per (secret, key)."""
    if not secret:
        raise ValueError("the perturbation needs a secret key")
    log_p = -1.0 / scale
    out = np.empty(len(keys), dtype=float)
    for i, key in enumerate(keys):
        digest = hmac.new(secret, str(key).encode("utf-8"), hashlib.sha256).digest()
        u1 = (int.from_bytes(digest[:8], "big") + 0.5) / 2 ** 64
        u2 = (int.from_bytes(digest[8:16], "big") + 0.5) / 2 ** 64
        out[i] = np.floor(np.log(u1) / log_p) - np.floor(np.log(u2) / log_p)
    return out


def publish_totals(totals, keys, rule: Rule, secret: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Published group totals and the mask of hidden ones (see the module docstring): 0 stays 0;
    every other total is ``round(raw + e)`` to the rule's base (``e`` from :func:`cell_noise` for
    the cell's key), hidden where the raw total is one the rule suppresses *or* where the perturbed
    one falls below :attr:`Rule.smallest_shown`. So a hidden total says only that the total is small
    (not that it is 1 to 7: a group of seven hidden LSOAs whose total is hidden does not pin each to 1)."""
    t = np.asarray(totals, dtype=float)
    noisy = t + cell_noise(list(keys), secret)
    rounded = np.floor(noisy / rule.round_to + 0.5) * rule.round_to
    hide = suppressed(t, rule) | np.isnan(t) | ((t > 0) & (rounded < rule.smallest_shown))
    out = np.where(t <= 0, 0.0, rounded)
    return np.where(hide, np.nan, out), hide

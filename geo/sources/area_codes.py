"""Which kind of area a code is: an ICB (ONS E54 code or NHS code such as QHG), a local authority
(E06/E07/E08/E09), a ward (E05) or an LSOA (E01), so that a code given to the wrong option
(``--lad QHG``) is refused with the option it belongs to ("QHG is an ICB: use --icb QHG")
rather than answered with an empty table.

:func:`resolve` takes a table of LSOAs with their ``icb24cd``, ``icb24cdh``, ``icb24nm``,
``lad24cd``, ``lad24nm``, ``ward24cd`` and ``ward24nm`` (the store's LSOA table, or the build's
before it is written): the areas the store holds.
"""
from __future__ import annotations

import re

import pandas as pd

from geo.errors import NotFound

LEVEL_WORDS = {"icb": "an ICB", "lad": "a local authority", "ward": "a ward", "lsoa": "an LSOA"}
OPTION = {"icb": "--icb", "lad": "--lad", "ward": "--ward"}
EXAMPLE = {"icb": "E54000024 or QHG", "lad": "E06000032", "ward": "E05008471"}
LEVEL_LIST = {"icb": "icb", "lad": "lad", "ward": "ward"}
PREFIX = {"E54": "icb", "E06": "lad", "E07": "lad", "E08": "lad", "E09": "lad", "E05": "ward", "E01": "lsoa",
          "E02": "msoa", "W01": "welsh", "W05": "welsh", "W06": "welsh"}
NHS_ICB = re.compile(r"^Q[A-Z0-9]{2}$")


class UnknownArea(NotFound):
    """A code given as an ICB, local authority or ward that the store holds no LSOAs of."""


def _matches(lsoas: pd.DataFrame, code: str) -> list[tuple[str, str, str]]:
    """(level, ONS code, name) of every area level the store holds ``code`` at."""
    found = []
    upper = code.upper()
    columns = [("icb", "icb24cd", "icb24nm"), ("icb", "icb24cdh", "icb24nm"), ("lad", "lad24cd", "lad24nm"),
               ("ward", "ward24cd", "ward24nm"), ("lsoa", "lsoa21cd", "lsoa21nm")]
    for level, column, name_column in columns:
        if column not in lsoas:
            continue
        hit = lsoas[lsoas[column].astype(str).str.upper() == upper]
        if len(hit):
            ons = hit["icb24cd"].iloc[0] if level == "icb" else hit[column].iloc[0]
            name = str(hit[name_column].iloc[0]) if name_column in hit else ""
            if not any(f[0] == level for f in found):
                found.append((level, ons, name))
    return found


def resolve(lsoas: pd.DataFrame, level: str, code: str, held: str = "this store") -> str:
    """The ONS code of the ``level`` area ``code`` names (an ICB's NHS code becomes its E54 code),
    or :class:`UnknownArea` saying what the code is when it is not such an area of ``held``:
    "QHG is an ICB (NHS Bedfordshire, Luton and Milton Keynes ICB): use --icb QHG"."""
    code = code.strip()
    found = _matches(lsoas, code)
    for lvl, ons, _ in found:
        if lvl == level:
            return ons
    asked = LEVEL_WORDS[level]
    if found:
        lvl, ons, name = found[0]
        named = f" ({name})" if name else ""
        if lvl in OPTION:
            raise UnknownArea(f"{code} is {LEVEL_WORDS[lvl]}{named}, not {asked}: use {OPTION[lvl]} {code}")
        raise UnknownArea(f"{code} is {LEVEL_WORDS[lvl]}{named}, not {asked}: give its {_words(level)} code "
                          f"with {OPTION[level]} (e.g. {EXAMPLE[level]})")
    kind = PREFIX.get(code[:3].upper()) or ("icb" if NHS_ICB.match(code.upper()) else None)
    look = (f"{_words(level)} codes look like {EXAMPLE[level]}; `gapmap areas --level {LEVEL_LIST[level]}` "
            f"lists those in {held}")
    if kind == level:
        raise UnknownArea(f"unknown {_words(level)} {code!r}: there are no LSOAs of it in {held}; {look}")
    if kind in OPTION:
        raise UnknownArea(f"{code} looks like {LEVEL_WORDS[kind]} code, not {asked} (use {OPTION[kind]}), and "
                          f"there are no LSOAs of it in {held}; {look}")
    if kind == "welsh":
        raise UnknownArea(f"{code} is a Welsh code: Gapmap covers England only; {look}")
    raise UnknownArea(f"unknown {_words(level)} {code!r}: {look}")


def _words(level: str) -> str:
    return {"icb": "ICB", "lad": "local authority", "ward": "ward"}[level]

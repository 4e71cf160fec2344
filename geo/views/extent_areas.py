"""The places and wards of an ICB or place, clipped to its own LSOAs.

LSOAs nest in wards and local authorities, but ICB boundaries do not always follow local
authority lines in the lookups: NHS Bedfordshire, Luton and Milton Keynes ICB holds 4 of
Buckinghamshire's 334 LSOAs. So:

* :func:`places_of_icb` lists every local authority (LAD 2024) with LSOAs in the ICB, with
  ``lsoas`` (all of its LSOAs), ``lsoas_in_icb`` and ``offered``: True when at least half of its LSOAs are
  in the ICB. A place map shows the whole local authority, so one mostly outside the ICB
  (Buckinghamshire for BLMK) is not offered as one of the ICB's places; its LSOAs in the ICB are
  still on the ICB map, and the page says so.
* :func:`outlines` draws ward or place outlines by dissolving the extent's own LSOAs by ward or
  LAD code, so an ICB map draws no outline beyond the ICB and each outline says how many of the
  ward's or place's LSOAs it holds (``lsoas``).
"""
from __future__ import annotations

import pandas as pd

from geo.errors import InvalidValue
from geo.store.folder import CODE_COLUMN


def places_of_icb(store, icb: str) -> pd.DataFrame:
    """LADs with LSOAs in ``icb``: lad24cd, lad24nm, lsoas, lsoas_in_icb, offered; by name. Read
    once per store build (:func:`geo.views.catalogue.per_build`); a copy is returned."""
    from geo.views.catalogue import per_build

    return per_build(store, f"places of {icb}", lambda: _places_of_icb(store, icb)).copy()


def _places_of_icb(store, icb: str) -> pd.DataFrame:
    members = store.lsoas(icb=icb, columns=["lad24cd"], geometry=False)
    in_icb = members["lad24cd"].value_counts()
    lads = store.areas("lad")
    lads = lads[lads["lad24cd"].isin(in_icb.index)][["lad24cd", "lad24nm", "lsoas"]].copy()
    lads["lsoas_in_icb"] = lads["lad24cd"].map(in_icb).astype(int)
    lads["offered"] = lads["lsoas_in_icb"] * 2 >= lads["lsoas"]
    return lads.sort_values("lad24nm").reset_index(drop=True)


def outlines(store, level: str, icb: str | None = None, lad: str | None = None, ward: str | None = None):
    """Ward or LAD polygons (EPSG:4326) dissolved from the LSOAs of the extent, with the code, the
    name and ``lsoas`` (how many of the extent's LSOAs each holds)."""
    if level not in ("ward", "lad"):
        raise InvalidValue("outlines are drawn for wards or places (lad)")
    code, name = CODE_COLUMN[level], CODE_COLUMN[level].replace("cd", "nm")
    frame = store.lsoas(icb=icb, lad=lad, ward=ward, columns=["lsoa21cd", code, name], geometry=True)
    frame = frame.dissolve(by=[code, name], aggfunc={"lsoa21cd": "count"}, as_index=False)
    return frame.rename(columns={"lsoa21cd": "lsoas"})[[code, name, "lsoas", "geometry"]]

"""Search the store by LSOA code or name, ward name, postcode or school name.

:func:`find` returns one dict per match, best first, each with

* ``kind``: ``lsoa``, ``ward``, ``postcode`` or ``school``;
* ``code``: the LSOA or ward code, the postcode as written by Code-Point Open, or the school URN;
* ``name``: what to show; ``place``: the local authority (LAD 2024) it lies in, so that two
  schools of the same name are told apart;
* ``lad``: the LAD code whose map shows it; ``lsoa21cd``: the LSOA of a postcode or school;
* ``pin``: for a postcode or school, what the map pins (``postcode:<key>`` or ``school:<urn>``).

A postcode the build does not hold is explained by :func:`postcode_coverage` (the postcode
areas, such as LU or MK, that the build's Code-Point Open extract covers).
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

LIMIT = 10  # matches of each kind


def _lad_names(store) -> dict[str, str]:
    lads = store.areas("lad")
    return dict(zip(lads["lad24cd"], lads["lad24nm"]))


def find(store, query: str) -> list[dict]:
    """Search LSOA codes and names, wards, postcodes and school names; best matches first."""
    q = query.strip()
    if len(q) < 2:
        return []
    places = _lad_names(store)
    results = []
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "lsoa21nm", "ward24cd", "ward24nm", "lad24cd"])
    low = q.lower()
    exact = lsoas[lsoas["lsoa21cd"].str.lower() == low]
    named = lsoas[lsoas["lsoa21nm"].str.lower().str.contains(low, regex=False)]
    for r in pd.concat([exact, named]).drop_duplicates("lsoa21cd").head(LIMIT).itertuples():
        results.append({"kind": "lsoa", "code": r.lsoa21cd, "name": f"{r.lsoa21nm} ({r.lsoa21cd})",
                        "place": places.get(r.lad24cd, ""), "lad": r.lad24cd})
    wards = lsoas.drop_duplicates("ward24cd")
    for r in wards[wards["ward24nm"].str.lower().str.contains(low, regex=False)].head(LIMIT).itertuples():
        results.append({"kind": "ward", "code": r.ward24cd, "name": r.ward24nm, "place": places.get(r.lad24cd, ""),
                        "lad": r.lad24cd})
    key = postcode_key(q)
    if key:
        found = store.postcodes([key], geometry=False)
        for r in found.itertuples():
            if isinstance(r.lsoa21cd, str):
                results.append({"kind": "postcode", "code": r.postcode, "name": f"{r.postcode} (in LSOA {r.lsoa21cd})",
                                "place": places.get(r.lad24cd, ""), "lsoa21cd": r.lsoa21cd, "lad": r.lad24cd,
                                "pin": f"postcode:{r.key}"})
    schools = store.points("schools")
    for r in schools[schools["name"].str.lower().str.contains(low, regex=False)].head(LIMIT).itertuples():
        results.append({"kind": "school", "code": str(r.urn), "name": r.name, "place": places.get(r.lad24cd, ""),
                        "lsoa21cd": r.lsoa21cd, "lad": r.lad24cd, "pin": f"school:{r.urn}"})
    return results


def postcode_key(text: str) -> str | None:
    """The normalised key (``LU11AA``) when ``text`` looks like a full postcode, else None."""
    from geo.ingest.codes import normalise_postcode

    key = normalise_postcode(pd.Series([text.strip()])).iloc[0]
    return key if isinstance(key, str) and 5 <= len(key) <= 7 and key[-3:-2].isdigit() else None


def postcode_coverage(store) -> list[str]:
    """The postcode areas (the letters a postcode starts with, e.g. LU, MK) the build holds."""
    return _coverage(store.identity, store.build_id(), store)


@lru_cache(maxsize=8)
def _coverage(root: str, build: str, store) -> list[str]:
    areas = store.postcodes(geometry=False)["postcode"].str.extract(r"^([A-Z]{1,2})")[0]
    return sorted(set(areas.dropna()))


def pin(store, value: str) -> dict | None:
    """Where to put the map's marker for ``postcode:<key>`` or ``school:<urn>``: lat, lon, label."""
    kind, _, code = value.partition(":")
    if kind == "postcode":
        found = store.postcodes([code], geometry=True)
        if found.empty:
            return None
        row = found.to_crs(4326).iloc[0]
        return {"lat": row.geometry.y, "lon": row.geometry.x, "label": f"Postcode {row['postcode']}"}
    if kind == "school" and code.isdigit():
        schools = store.points("schools")
        found = schools[schools["urn"].astype(str) == code]
        if found.empty:
            return None
        row = found.to_crs(4326).iloc[0]
        return {"lat": row.geometry.y, "lon": row.geometry.x, "label": f"{row['name']} (school)"}
    return None

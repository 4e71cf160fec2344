"""Targeting that follows a statement's actions: the schools, GP practices and wards in chosen groups
of LSOAs, e.g. "schools in the 40% most deprived LSOAs of the ICB" (toothbrushing packs) or "in the
hot spots of ORA01".

Groups (``--target`` on ``gapmap statement``):

``most-deprived-20`` / ``most-deprived-40``
    LSOAs in IMD 2025 quintile 1 / quintiles 1-2 *within the ICB* (``imd_quintile_in_icb``; within
    the place for a place's statement): the 20% / 40% most deprived of the ICB's own LSOAs.
``core20``
    LSOAs in national IMD 2025 deciles 1-2 (NHS England's Core20).
``hotspots:CODE``
    LSOAs in a Getis-Ord Gi* hot spot at 95% confidence or more, two-sided (z >= 1.960), of the
    dataset attached to NHS indicator CODE: the map's own Gi* (:func:`geo.views.map_table.statistics_layer`:
    analytic z, queen weights, on the published values, so a suppressed LSOA is never a hot spot and the
    statement names the same LSOAs as the map).

Output of :func:`select`: one row per school, GP practice and ward in each group: ``group``,
``kind`` (school, gp_practice, ward), ``code`` (URN, practice code, ward code), ``name``, ``ward``,
``lsoa21cd`` (for a ward, how many of its LSOAs are in the group), ``phase``, ``pupils`` and ``why``.
"""
from __future__ import annotations

import pandas as pd

from geo.errors import InvalidValue
from geo.views import analysis

FIXED_GROUPS = {
    "most-deprived-20": "the 20% most deprived LSOAs of the {where} (IMD 2025 quintile 1 within the {where})",
    "most-deprived-40": "the 40% most deprived LSOAs of the {where} (IMD 2025 quintiles 1-2 within the {where})",
    "core20": "Core20 LSOAs (national IMD 2025 deciles 1-2)",
}
COLUMNS = ["group", "kind", "code", "name", "ward", "lsoa21cd", "phase", "pupils", "why"]


def check_group(group: str) -> str:
    if group in FIXED_GROUPS:
        return group
    kind, _, code = group.partition(":")
    if kind == "hotspots" and code:
        from geo.sources.nhs_indicators import check

        check(code.upper())
        return group
    raise InvalidValue(f"unknown targeting group {group!r}: choose most-deprived-20, most-deprived-40, core20 or "
                     f"hotspots:CODE (e.g. hotspots:ORA01)")


def default_groups(store) -> list[str]:
    from geo.views.indicator_datasets import attached

    groups = ["most-deprived-40"]
    if "ORA01" in attached(store):
        groups.append("hotspots:ORA01")
    return groups


def describe(group: str, extent: analysis.Extent) -> str:
    where = "place" if extent.level == "lad" else "ICB"
    if group in FIXED_GROUPS:
        return FIXED_GROUPS[group].format(where=where)
    return f"hot spots (Gi*, 95% or more, two-sided) of {group.partition(':')[2].upper()}"


def group_lsoas(store, extent: analysis.Extent, group: str, statement=None) -> pd.Series:
    """The LSOA codes in a group, indexed by code, with the reason as the value."""
    check_group(group)
    local = "imd_quintile_in_lad" if extent.level == "lad" else "imd_quintile_in_icb"
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "imd_decile", local], **extent.filters())
    if group in ("most-deprived-20", "most-deprived-40"):
        top = 1 if group.endswith("20") else 2
        pick = lsoas[lsoas[local] <= top]
        return pd.Series([f"IMD quintile {int(d)} within the {'place' if extent.level == 'lad' else 'ICB'}"
                          for d in pick[local]], index=pick["lsoa21cd"].to_numpy())
    if group == "core20":
        pick = lsoas[lsoas["imd_decile"] <= 2]
        return pd.Series([f"national IMD decile {int(d)}" for d in pick["imd_decile"]], index=pick["lsoa21cd"].to_numpy())
    code = group.partition(":")[2].upper()
    section = None if statement is None else next((s for s in statement.sections if s.code == code), None)
    dataset = section.dataset if section is not None else None
    if dataset is None:
        from geo.views.indicator_datasets import attached

        metas = attached(store).get(code)
        if not metas:
            raise InvalidValue(f"no dataset attached to {code}: hot spots need one ({code} has no data)")
        dataset = metas[0]["name"]
    from geo.views import map_table  # the map's own Gi* of the published values: one answer everywhere

    layer = map_table.statistics_layer(store, dataset, extent)
    frame = layer.frame
    if "gi_bin" not in frame:  # e.g. every LSOA hidden by disclosure control: no LSOA is a hot spot
        if section is not None:
            section.notes.append(f"No hot spots to target: Gi* {layer.meta.get('statistics', 'was not computed')}.")
        return pd.Series([], dtype=object)
    hot = frame[frame["gi_bin"] >= 2]
    return pd.Series([f"{str(s).lower()} of {code}" for s in hot["gi_spot"]], index=hot["lsoa21cd"].to_numpy())


def select(store, extent: analysis.Extent, groups, statement=None) -> pd.DataFrame:
    """Schools, GP practices and wards in each group (see the module docstring)."""
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", "lsoa21nm", "ward24cd", "ward24nm"], **extent.filters())
    lsoas = lsoas.set_index("lsoa21cd")
    schools = store.points("schools", **extent.filters()) if extent.level in ("icb", "lad") else \
        store.points("schools")
    practices = store.points("gp_practices", **extent.filters()) if extent.level in ("icb", "lad") else \
        store.points("gp_practices")
    rows = []
    for group in groups:
        members = group_lsoas(store, extent, group, statement)
        label = describe(group, extent)
        for s in schools[schools["lsoa21cd"].isin(set(members.index))].sort_values("name").itertuples():
            rows.append({"group": label, "kind": "school", "code": str(s.urn), "name": s.name,
                         "ward": lsoas.at[s.lsoa21cd, "ward24nm"], "lsoa21cd": s.lsoa21cd, "phase": s.phase,
                         "pupils": None if pd.isna(s.pupils) else int(s.pupils),
                         "why": f"in LSOA {s.lsoa21cd} ({lsoas.at[s.lsoa21cd, 'lsoa21nm']}): {members[s.lsoa21cd]}"})
        for p in practices[practices["lsoa21cd"].isin(set(members.index))].sort_values("name").itertuples():
            rows.append({"group": label, "kind": "gp_practice", "code": p.practice_code, "name": p.name,
                         "ward": lsoas.at[p.lsoa21cd, "ward24nm"], "lsoa21cd": p.lsoa21cd, "phase": None,
                         "pupils": None,
                         "why": f"in LSOA {p.lsoa21cd} ({lsoas.at[p.lsoa21cd, 'lsoa21nm']}): {members[p.lsoa21cd]}"})
        inside = lsoas.loc[lsoas.index.isin(set(members.index))]
        totals = lsoas.groupby("ward24cd").size()
        for (ward, name), g in inside.groupby(["ward24cd", "ward24nm"], sort=True):
            rows.append({"group": label, "kind": "ward", "code": ward, "name": name, "ward": name,
                         "lsoa21cd": f"{len(g)} of {int(totals[ward])} LSOAs", "phase": None, "pupils": None,
                         "why": f"{len(g)} of its {int(totals[ward])} LSOAs are in {label}"})
    return pd.DataFrame(rows, columns=COLUMNS)

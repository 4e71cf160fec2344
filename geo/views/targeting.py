"""Where to act: ONE targeting engine behind the map's list, ``/targeting.csv``, ``gapmap target``
and the statement's "Where to act", and the side panel's LSOA summary.

A targeting question is a group expression (:mod:`geo.views.target_groups`, e.g. ``most-deprived-40
and hotspots:ORA01``) and the kinds of place to list (:data:`POINT_TYPES`: state-funded primary,
secondary and special schools, GP practices, hospitals, wards...). :func:`answer` returns one row per
school, GP practice, hospital and ward in the answer's LSOAs:

``kind``        school, gp_practice, hospital or ward
``type``        the point type in words ("state-funded primary school", "GP practice", "ward")
``code``        URN, practice code, ward code (hospitals: none is published)
``name``        its name
``ward``        the ward it stands in
``lsoa21cd``    its LSOA (a ward: how many of its LSOAs are in the answer, "3 of 7 LSOAs")
``lsoa21nm``    that LSOA's name (a ward: empty)
``phase``       a school's phase (GIAS)
``pupils``      a school's pupils on roll; ``fsm_percent`` the % of them eligible for free school meals
``why``         the reasons, in words a team can act on

``answer(...).attrs`` holds the ``question`` in words, the point types, ``synthetic`` (any dataset it
uses is synthetic), ``datasets`` (their names and disclosure rules) and ``notes`` (e.g. a hot spot
group that found none, and why). Rows are ordered by kind (schools, GP practices, hospitals, wards)
then name.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import InvalidValue
from geo.views import analysis
from geo.views import target_groups
from geo.views.school_kinds import TYPES, school_type

# point type -> (kind, words); schools are typed by GIAS (geo.views.school_kinds, as the map draws them)
POINT_TYPES = {
    **{key: ("school", words) for key, words in TYPES.items() if key != "all-through"},
    "gp-practices": ("gp_practice", "GP practice"),
    "hospitals": ("hospital", "hospital"),
    "wards": ("ward", "ward"),
}
DEFAULT_POINTS = ("primary", "secondary", "special", "gp-practices", "wards")
KIND_ORDER = {"school": 0, "gp_practice": 1, "hospital": 2, "ward": 3}
COLUMNS = ["kind", "type", "code", "name", "ward", "lsoa21cd", "lsoa21nm", "phase", "pupils", "fsm_percent", "why"]
MAX_ROWS = 20_000  # no request lists more (England's schools in Core20 are about 6,000)


def default_question(indicator: str) -> str:
    """What the map of an indicator lists unless told otherwise: its hot spots, its High-High
    clusters, or Core20."""
    return f"hotspots:{indicator} or clusters:{indicator} or core20"


def check_points(points) -> tuple[str, ...]:
    """Point types from a list or a comma-separated text; ``all`` for every type."""
    if isinstance(points, str):
        points = [points]
    chosen = [p.strip().lower() for text in (points or ()) for p in str(text).split(",") if p.strip()]
    if not chosen:
        return DEFAULT_POINTS
    if chosen == ["all"]:
        return tuple(POINT_TYPES)
    unknown = [p for p in chosen if p not in POINT_TYPES]
    if unknown:
        raise InvalidValue(f"unknown point type {unknown[0]!r}: choose from {', '.join(POINT_TYPES)} (or all)")
    return tuple(dict.fromkeys(chosen))


def answer(store, extent: analysis.Extent, question: str, points=DEFAULT_POINTS,
           ctx: target_groups.Context | None = None) -> pd.DataFrame:
    """The schools, GP practices, hospitals and wards in the LSOAs that answer ``question`` (see the
    module docstring for the columns)."""
    points = check_points(points)
    ctx = ctx or target_groups.context(store, extent)  # may be shared: only this question's notes and datasets
    noted = len(ctx.notes)
    members = target_groups.evaluate(ctx, question)
    used = {target_groups.resolve(ctx, group.partition(":")[2]) for group in
            target_groups.leaves(target_groups.parse(question))
            if group.partition(":")[0] in target_groups.INDICATOR_GROUPS}
    datasets = {name: meta for name, meta in ctx.datasets.items() if name in used}
    hit = ctx.lsoas.set_index("lsoa21cd").join(members)
    hit = hit[hit["member"]]
    frames = []
    filters = extent.filters() if extent.level in ("icb", "lad") else {}
    school_points = [p for p in points if POINT_TYPES[p][0] == "school"]
    if school_points:
        frames.append(_school_rows(store.points("schools", **filters), hit, school_points))
    for point, layer in (("gp-practices", "gp_practices"), ("hospitals", "hospitals")):
        if point in points:
            frames.append(_point_rows(store.points(layer, **filters), hit, point))
    if "wards" in points:
        frames.append(_ward_rows(ctx.lsoas, hit))
    table = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else \
        pd.DataFrame(columns=COLUMNS)
    table = table.reindex(columns=COLUMNS)
    if len(table) > MAX_ROWS:
        raise InvalidValue(f"the targeting list has {len(table):,} rows, more than the {MAX_ROWS:,} one request may "
                           f"list: ask a narrower question (add 'and ...') or choose a smaller area")
    table = table.assign(_order=table["kind"].map(KIND_ORDER)).sort_values(["_order", "name", "code"], kind="stable")
    table = table.drop(columns="_order").reset_index(drop=True)
    table.attrs.update({
        "question": target_groups.describe(ctx, question), "expression": question,
        "points": (["every kind of school, GP practices, hospitals and wards"] if set(points) == set(POINT_TYPES)
                   else [POINT_TYPES[p][1] for p in points]), "lsoas": int(len(hit)), "of_lsoas": int(len(ctx.lsoas)),
        "synthetic": any(bool(m.get("synthetic")) for m in datasets.values()),
        "datasets": {name: (m.get("disclosure") or "") for name, m in datasets.items()},
        "notes": list(dict.fromkeys(ctx.notes[noted:]))})
    return table


def _school_rows(schools: pd.DataFrame, hit: pd.DataFrame, wanted: list[str]) -> pd.DataFrame:
    """The schools of the ``wanted`` types in the answer's LSOAs; an all-through school is listed
    when primary or secondary schools are."""
    types = school_type(schools)
    listed = set(wanted) | ({"all-through"} if {"primary", "secondary"} & set(wanted) else set())
    keep = types.isin(listed) & schools["lsoa21cd"].isin(hit.index)
    schools = pd.DataFrame(schools.drop(columns="geometry"))[keep.to_numpy()]
    joined = schools.join(hit[["lsoa21nm", "ward24nm", "why"]], on="lsoa21cd")
    return pd.DataFrame({
        "kind": "school", "type": types[keep].map(TYPES).to_numpy(),
        "code": joined["urn"].astype(str), "name": joined["name"], "ward": joined["ward24nm"],
        "lsoa21cd": joined["lsoa21cd"], "lsoa21nm": joined["lsoa21nm"], "phase": joined["phase"],
        "pupils": pd.to_numeric(joined["pupils"], errors="coerce").astype("Int64"),
        "fsm_percent": pd.to_numeric(joined["fsm_percent"], errors="coerce"),
        "why": _in_lsoa(joined)})


def _point_rows(points: pd.DataFrame, hit: pd.DataFrame, point: str) -> pd.DataFrame:
    kind, words = POINT_TYPES[point]
    points = pd.DataFrame(points.drop(columns="geometry"))
    joined = points[points["lsoa21cd"].isin(hit.index)].join(hit[["lsoa21nm", "ward24nm", "why"]], on="lsoa21cd")
    code = joined["practice_code"].astype(str) if "practice_code" in joined else pd.Series("", index=joined.index)
    return pd.DataFrame({"kind": kind, "type": words, "code": code, "name": joined["name"],
                         "ward": joined["ward24nm"], "lsoa21cd": joined["lsoa21cd"], "lsoa21nm": joined["lsoa21nm"],
                         "phase": None, "pupils": pd.array([pd.NA] * len(joined), dtype="Int64"),
                         "fsm_percent": np.nan, "why": _in_lsoa(joined)})


def _in_lsoa(joined: pd.DataFrame) -> list[str]:
    return [f"in LSOA {c} ({n}): {w}" for c, n, w in zip(joined["lsoa21cd"], joined["lsoa21nm"], joined["why"])]


def _ward_rows(lsoas: pd.DataFrame, hit: pd.DataFrame) -> pd.DataFrame:
    """One row per ward with LSOAs in the answer, counting its LSOAs by kind of reason."""
    if not len(hit):
        return pd.DataFrame(columns=COLUMNS)
    totals = lsoas.groupby("ward24cd").size()
    inside = hit.groupby(["ward24cd", "ward24nm"], sort=True).size()
    pieces = hit[["ward24cd", "why"]].assign(reason=hit["why"].str.split("; ")).explode("reason")
    kinds = {r: _reason_kind(r) for r in pieces["reason"].unique()}
    counted = pieces.assign(kind=pieces["reason"].map(kinds)).groupby(["ward24cd", "kind"], sort=False).size()
    said: dict[str, list[str]] = {}
    for (ward, what), n in counted.sort_values(ascending=False, kind="stable").items():
        said.setdefault(ward, []).append(f"{n} {what}" if n > 1 or inside[ward].iloc[0] > 1 else what)
    codes = inside.index.get_level_values(0)
    names = inside.index.get_level_values(1)
    of = [f"{n} of {int(totals[w])} LSOAs" for w, n in zip(codes, inside.to_numpy())]
    return pd.DataFrame({
        "kind": "ward", "type": "ward", "code": codes, "name": names, "ward": names, "lsoa21cd": of, "lsoa21nm": "",
        "phase": None, "pupils": pd.array([pd.NA] * len(codes), dtype="Int64"), "fsm_percent": np.nan,
        "why": [f"{n} of its {int(totals[w])} LSOAs: " + "; ".join(said[w]) for w, n in zip(codes, inside.to_numpy())]},
        columns=COLUMNS)


def _reason_kind(reason: str) -> str:
    """A reason without its LSOA's particulars, to count in a ward ("Core20", "ORA01 hot spot")."""
    if reason.startswith("Core20"):
        return "Core20"
    for cut in (" (", ", "):
        if cut in reason:
            reason = reason.split(cut)[0]
    return reason


# ---- the side panel's LSOA summary ----------------------------------------------------------------
def lsoa_targets(store, indicator: str, extent: analysis.Extent,
                 ctx: target_groups.Context | None = None) -> pd.DataFrame:
    """Per LSOA (indexed by code), from the map table (:mod:`geo.views.map_table`, disclosure applied):
    value, Core20, hot-spot bin and words, cluster, and ``reasons`` (the default question's answer,
    :func:`default_question`). Suppressed LSOAs have no value, so no hot spot or cluster."""
    from geo.views.map_table import map_table

    frame = map_table(store, indicator, extent).frame.set_index("lsoa21cd")
    has_value = frame["value"].notna()
    frame["hot_bin"] = frame["gi_bin"].where(has_value) if "gi_bin" in frame else np.nan
    frame["hot_spot"] = frame["gi_spot"].where(has_value) if "gi_spot" in frame else None
    frame["cluster"] = frame["lisa_cluster"].where(has_value) if "lisa_cluster" in frame else None
    ctx = ctx or target_groups.context(store, extent)  # the panel's, shared with its targeting list
    frame["reasons"] = target_groups.evaluate(ctx, default_question(indicator))["why"].reindex(frame.index).fillna("")
    return frame


def summary(targets: pd.DataFrame) -> dict:
    return {
        "lsoas": int(len(targets)),
        "core20": int(targets["core20"].fillna(False).astype(bool).sum()),
        "high_high": int((targets["cluster"] == "High-High").sum()),
        "hot_spots": int((targets["hot_bin"] >= 2).sum()),
        "targets": int((targets["reasons"] != "").sum()),
    }


def by_quintile(targets: pd.DataFrame, store=None, indicator: str | None = None,
                extent: analysis.Extent | None = None) -> pd.DataFrame:
    """Mean value over the LSOAs with a (published) value by national IMD quintile and, for
    datasets (given ``store``, ``indicator`` and ``extent``), the published group value from
    :func:`geo.views.map_table.group_table` in the indicator's unit (``attrs["unit"]``)."""
    grouped = targets.groupby("imd_quintile", sort=True)["value"]
    out = pd.DataFrame({"lsoas": grouped.size(), "mean_value": grouped.mean()}).reset_index()
    out = out.rename(columns={"imd_quintile": "quintile"}).astype({"quintile": int, "lsoas": int})
    out = out[["quintile", "lsoas", "mean_value"]]
    if "count" in targets and store is not None and len(out):
        from geo.views.map_table import group_table

        groups = group_table(store, indicator, extent, "imd_quintile")
        if len(groups):
            out["rate"] = out["quintile"].map(groups.set_index("group")["value"])
            out.attrs["unit"] = groups.attrs.get("unit")
    return out


def top_wards(targets: pd.DataFrame, n: int = 10, ward_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The wards with the highest values: for a dataset (``ward_table``, the group path's published
    ward figures, :func:`geo.views.map_table.group_table` by ``ward24cd``) by the ward's own published
    rate, otherwise by the mean of its LSOAs' values. A ward whose figure is hidden (or whose every LSOA
    is) is not ranked. Columns: ``ward24cd``, ``ward24nm``, ``lsoas``, ``mean_value`` (the ranked
    value), ``basis`` (what it is) and ``target_lsoas``."""
    frame = targets.assign(_target=(targets["reasons"] != "").astype(int))
    grouped = frame.groupby(["ward24cd", "ward24nm"], sort=False).agg(
        lsoas=("value", "size"), mean_value=("value", "mean"), target_lsoas=("_target", "sum")).reset_index()
    grouped["basis"] = "mean of its LSOAs"
    if ward_table is not None and len(ward_table):
        grouped["mean_value"] = grouped["ward24cd"].map(ward_table.set_index("group")["value"])
        grouped["basis"] = "ward figure"
    ranked = grouped[grouped["mean_value"].notna()]
    return ranked.sort_values(["mean_value"], ascending=False).head(n)

"""The statement's "Where to act": each targeting question (``--target`` on ``gapmap statement``, a
group expression of :mod:`geo.views.target_groups` such as ``most-deprived-40`` or ``core20 and
hotspots:ORA01``) answered by the one targeting engine, :func:`geo.views.targeting.answer`, so the
statement lists what the map, ``/targeting.csv`` and ``gapmap target`` list for the same question.

Output of :func:`select`: the engine's rows (:mod:`geo.views.targeting`) with ``group``, the question
in words, first; ``attrs`` gathers the engine's notes and whether any dataset used is synthetic.
"""
from __future__ import annotations

import pandas as pd

from geo.views import analysis, target_groups, targeting

COLUMNS = ["group", *targeting.COLUMNS]


def check_group(group: str) -> str:
    """A question as the statement takes it (raises :class:`target_groups.QuestionError`)."""
    target_groups.parse(group)
    return group


RARE = 0.5  # more than this share of LSOA counts hidden: an indicator's hot spots are its smoothed view's


def default_groups(store, extent: analysis.Extent | None = None) -> list[str]:
    """The 40% most deprived LSOAs of the area (toothbrushing packs) and, where ORA01 has data, its hot
    spots: of the published values, or, where more than half of the area's LSOA counts are hidden (a
    rare indicator), of the smoothed view (``smoothed-hotspots:ORA01``, every LSOA has a value there)."""
    from geo.views.indicator_datasets import attached

    groups = ["most-deprived-40"]
    metas = attached(store).get("ORA01")
    if not metas:
        return groups
    if extent is not None:
        from geo.views import map_table

        layer = map_table.statistics_layer(store, metas[0]["name"], extent)
        hidden = layer.frame["suppressed"].mean() if "suppressed" in layer.frame else 0.0
        if hidden > RARE and "gi_eb_bin" in layer.frame:
            return groups + ["smoothed-hotspots:ORA01"]
    return groups + ["hotspots:ORA01"]


def select(store, extent: analysis.Extent, groups, points=targeting.DEFAULT_POINTS) -> pd.DataFrame:
    """The engine's answer to each question, one after another (see the module docstring)."""
    ctx = target_groups.context(store, extent)  # each indicator's statistics computed once for all questions
    parts, notes, synthetic, datasets = [], [], False, {}
    for group in groups:
        table = targeting.answer(store, extent, group, points, ctx=ctx)
        parts.append(table.assign(group=table.attrs["question"]))
        notes += table.attrs["notes"]
        synthetic |= table.attrs["synthetic"]
        datasets.update(table.attrs["datasets"])
    out = pd.concat(parts, ignore_index=True).reindex(columns=COLUMNS) if parts else pd.DataFrame(columns=COLUMNS)
    out.attrs.update({"notes": list(dict.fromkeys(notes)), "synthetic": synthetic, "datasets": datasets,
                      "points": [targeting.POINT_TYPES[p][1] for p in targeting.check_points(points)]})
    return out

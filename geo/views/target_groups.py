"""Named groups of LSOAs a place team targets, combined with ``and``, ``or``, ``not`` and brackets.

A *question* is an expression over the groups below, e.g. ``most-deprived-40 and hotspots:ORA01``
("the 40% most deprived LSOAs of the ICB that are also ORA01 hot spots") or ``core20 or
clusters:UEC01``. ``and`` binds tighter than ``or``; words are case-insensitive. Every group is
computed from what may be published: deprivation and rurality are open data, and the hot spots and
clusters of a dataset are the map's own (:func:`geo.views.map_table.statistics_layer`: Gi* and
local Moran on the values left after disclosure control), so an LSOA whose count is hidden is never
a hot spot, and the map, ``/targeting.csv``, ``gapmap target`` and the statement give one answer.

Groups (``A`` and ``B`` are whole numbers, 1 = most deprived):

``most-deprived-20`` / ``most-deprived-40``
    IMD 2025 quintile 1 / quintiles 1-2 *within the area*: within the ICB for an ICB, within the
    place (local authority) for a place or a ward, nationally for England.
``local-quintile:A[-B]`` / ``local-decile:A[-B]``
    IMD 2025 fifths / tenths within the area, as above.
``quintile:A[-B]`` / ``decile:A[-B]``
    National IMD 2025 quintiles / deciles.
``core20``
    NHS England's Core20: national IMD 2025 deciles 1-2.
``hotspots:X`` / ``coldspots:X``
    Getis-Ord Gi* hot / cold spots at 95% confidence or more, two-sided (|z| >= 1.960), of X: an NHS
    indicator code with a dataset attached (ORA01), a dataset's name, or an LSOA column
    (``acute_morbidity_indicator``).
``smoothed-hotspots:X``
    Gi* hot spots (95%+, two-sided) of X's Empirical Bayes standardised rates (Assuncao and Reis
    1999, as GeoDa's "EB rate" statistics): every LSOA has one, a hidden count counting as the
    middle of its hidden range, as the map's smoothed view shows. For rare events.
``clusters:X``
    High-High local Moran clusters of X (GeoDa's conditional permutation, pseudo p <= 0.05).
``rural`` / ``urban``
    ONS's rural-urban classification 2021 of the LSOA.

:func:`evaluate` returns, per LSOA of the area (indexed by code), whether it is in the question's
answer and the reason in words (each group that holds, e.g. "Core20 (national IMD 2025 decile 1);
ORA01 hot spot (Gi*, 99% confidence)").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.errors import InvalidValue
from geo.views import analysis

MAX_GROUPS = 12  # a question names at most this many groups: each may compute an indicator's statistics
MAX_LENGTH = 400
HOT_BIN = 2  # Gi* bin of 95% confidence, two-sided
GROUP_HELP = ("most-deprived-20, most-deprived-40, local-quintile:1-2, local-decile:1-3, quintile:1, decile:1-2, "
              "core20, hotspots:CODE, coldspots:CODE, smoothed-hotspots:CODE, clusters:CODE, rural, urban "
              "(CODE: an NHS indicator code such as ORA01, a dataset name or an LSOA column), combined with "
              "and / or / not and brackets")
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_RANGE = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")


class QuestionError(InvalidValue):
    """A targeting question that cannot be read, in words for the user."""


@dataclass
class Context:
    """What a question is evaluated over: the area's LSOAs (open columns) and the statistics layers
    of the indicators it names, each computed once. ``datasets`` collects the datasets used."""

    store: object
    extent: analysis.Extent
    lsoas: pd.DataFrame
    layers: dict = field(default_factory=dict)
    datasets: dict = field(default_factory=dict)  # name -> {synthetic, disclosure (the rule in words)}
    notes: list = field(default_factory=list)

    @property
    def where(self) -> str:
        return {"icb": "ICB", "lad": "place", "ward": "place"}.get(self.extent.level, "England")


@dataclass
class Group:
    """One named group: its words, and per LSOA (in the context's order) membership and reason."""

    words: str
    member: np.ndarray
    reason: np.ndarray


# ---- parsing: tokens -> a small tree of ("or"|"and", [parts]), ("not", part) or ("group", text) ----
def parse(question: str):
    text = (question or "").strip()
    if not text:
        raise QuestionError(f"an empty targeting question: name a group, e.g. 'most-deprived-40 and hotspots:ORA01' "
                            f"(groups: {GROUP_HELP})")
    if len(text) > MAX_LENGTH:
        raise QuestionError(f"a targeting question of {len(text)} characters is longer than the {MAX_LENGTH} allowed")
    tokens = _TOKEN.findall(text)
    position = 0

    def peek():
        return tokens[position].lower() if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def expression():
        parts = [term()]
        while peek() == "or":
            take()
            parts.append(term())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def term():
        parts = [factor()]
        while peek() == "and":
            take()
            parts.append(factor())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def factor():
        token = peek()
        if token is None:
            raise QuestionError(f"the targeting question {text!r} ends where a group was expected")
        if token == "not":
            take()
            return ("not", factor())
        if token == "(":
            take()
            inner = expression()
            if peek() != ")":
                raise QuestionError(f"the targeting question {text!r} opens a bracket it does not close")
            take()
            return inner
        if token in ("and", "or", ")"):
            raise QuestionError(f"the targeting question {text!r} has {tokens[position]!r} where a group was expected")
        return ("group", check_group(take()))

    tree = expression()
    if position != len(tokens):
        raise QuestionError(f"the targeting question {text!r} has {tokens[position]!r} after a whole question: "
                            f"join groups with 'and' or 'or'")
    if len(leaves(tree)) > MAX_GROUPS:
        raise QuestionError(f"a targeting question may name at most {MAX_GROUPS} groups")
    return tree


def leaves(tree) -> list[str]:
    kind, body = tree
    if kind == "group":
        return [body]
    if kind == "not":
        return leaves(body)
    return [g for part in body for g in leaves(part)]


def _range(text: str, top: int, group: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not match or not 1 <= low <= high <= top:
        raise QuestionError(f"{group!r}: give a {'quintile' if top == 5 else 'decile'} or a range of them from 1 to "
                            f"{top}, e.g. {group.partition(':')[0]}:1-2")
    return low, high


INDICATOR_GROUPS = ("hotspots", "coldspots", "smoothed-hotspots", "clusters")
FIXED = ("most-deprived-20", "most-deprived-40", "core20", "rural", "urban")
RANGED = {"local-quintile": 5, "local-decile": 10, "quintile": 5, "decile": 10}


def check_group(group: str) -> str:
    """The group in its canonical spelling, or :class:`QuestionError` naming what is known."""
    text = group.strip().lower()
    if text in FIXED:
        return text
    kind, _, rest = text.partition(":")
    if kind in RANGED and rest:
        _range(rest, RANGED[kind], text)
        return text
    if kind in INDICATOR_GROUPS and rest:
        return f"{kind}:{group.strip().partition(':')[2]}"
    raise QuestionError(f"unknown targeting group {group!r}: choose {GROUP_HELP}")


# ---- evaluation -------------------------------------------------------------------------------
LSOA_COLUMNS = ["lsoa21cd", "lsoa21nm", "ward24cd", "ward24nm", "imd_decile", "imd_quintile", "imd_decile_in_icb",
                "imd_quintile_in_icb", "imd_decile_in_lad", "imd_quintile_in_lad", "ruc21nm", "urban_rural"]


def context(store, extent: analysis.Extent) -> Context:
    lsoas = store.lsoas(geometry=False, columns=LSOA_COLUMNS, **extent.filters())
    return Context(store, extent, lsoas.sort_values("lsoa21cd").reset_index(drop=True))


def evaluate(ctx: Context, question: str) -> pd.DataFrame:
    """Per LSOA (index ``lsoa21cd``): ``member`` (bool) and ``why`` (the reasons, "" outside)."""
    result = _evaluate(ctx, parse(question))
    return pd.DataFrame({"member": result.member, "why": np.where(result.member, result.reason, "")},
                        index=pd.Index(ctx.lsoas["lsoa21cd"].to_numpy(), name="lsoa21cd"))


def describe(ctx: Context, question: str) -> str:
    """The question in words ("the 40% most deprived LSOAs of the ICB and ORA01 hot spots ...")."""
    words = _evaluate(ctx, parse(question)).words
    return words[1:-1] if words.startswith("(") and words.endswith(")") else words


def _evaluate(ctx: Context, tree) -> Group:
    kind, body = tree
    if kind == "group":
        return _group(ctx, body)
    if kind == "not":
        inner = _evaluate(ctx, body)
        words = f"not {inner.words}"
        return Group(f"({words})", ~inner.member, np.full(len(inner.member), words, dtype=object))
    parts = [_evaluate(ctx, p) for p in body]
    if kind == "and":
        member = np.logical_and.reduce([p.member for p in parts])
    else:
        member = np.logical_or.reduce([p.member for p in parts])
    reason = _join([np.where(p.member, p.reason, "") for p in parts])
    return Group("(" + f" {kind.upper()} ".join(p.words for p in parts) + ")", member, reason)


def _join(columns: list[np.ndarray]) -> np.ndarray:
    out = []
    for reasons in zip(*columns):
        seen = []
        for r in reasons:
            for piece in str(r).split("; "):
                if piece and piece not in seen:
                    seen.append(piece)
        out.append("; ".join(seen))
    return np.array(out, dtype=object)


def _group(ctx: Context, group: str) -> Group:
    lsoas = ctx.lsoas
    kind, _, rest = group.partition(":")
    if group in ("most-deprived-20", "most-deprived-40"):
        kind, rest = "local-quintile", "1" if group.endswith("20") else "1-2"
    if group == "core20":
        decile = lsoas["imd_decile"].to_numpy(float)
        member = decile <= 2
        return Group("Core20 LSOAs (national IMD 2025 deciles 1-2)", member,
                     np.array([f"Core20 (national IMD 2025 decile {d:.0f})" if m else "" for d, m in
                               zip(decile, member)], dtype=object))
    if group in ("rural", "urban"):
        member = (lsoas["urban_rural"].astype(str).str.lower() == group).to_numpy()
        return Group(f"{group} LSOAs (ONS rural-urban classification 2021)", member,
                     np.array([f"{group} ({name})" for name in lsoas["ruc21nm"].astype(str)], dtype=object))
    if kind in RANGED:
        return _deprivation(ctx, kind, rest, group)
    return _statistic(ctx, kind, rest)


def _deprivation(ctx: Context, kind: str, rest: str, group: str) -> Group:
    top = RANGED[kind]
    low, high = _range(rest, top, group)
    unit = "quintile" if top == 5 else "decile"
    local = kind.startswith("local") and ctx.extent.level != "england"
    column = f"imd_{unit}" + (("_in_icb" if ctx.extent.level == "icb" else "_in_lad") if local else "")
    scope = f"within the {ctx.where}" if local else "national"
    values = ctx.lsoas[column].to_numpy(float)
    member = (values >= low) & (values <= high)
    span = f"{low}" if low == high else f"{low}-{high}"
    share = 100 // top * high if low == 1 else None
    words = (f"the {share}% most deprived LSOAs of the {ctx.where} (IMD 2025 {unit}s {span} {scope})"
             if share and local else f"LSOAs in IMD 2025 {unit}s {span} ({scope})")
    label = f"IMD 2025 {unit} {{:.0f}} {scope}" if local else f"national IMD 2025 {unit} {{:.0f}}"
    return Group(words, member, np.array([label.format(v) if m else "" for v, m in zip(values, member)],
                                         dtype=object))


def resolve(ctx: Context, name: str) -> str:
    """An NHS indicator code (with a dataset attached), a dataset's name or an LSOA column, as the
    indicator whose statistics a group uses."""
    from geo.store.datasets import DatasetStore
    from geo.views.indicator_datasets import attached

    if name in analysis.numeric_columns(ctx.store) or name in DatasetStore(ctx.store).names():
        return name
    metas = attached(ctx.store).get(name.upper())
    if metas:
        return metas[0]["name"]
    from geo.sources.nhs_indicators import catalogue

    if name.upper() in set(catalogue()["metric"]):
        raise QuestionError(f"no dataset is attached to {name.upper()}, so it has no hot spots or clusters: "
                            f"ingest one with --nhs-indicator {name.upper()}")
    raise QuestionError(f"{name!r} is neither an NHS indicator code with data, a dataset nor an LSOA column: "
                        f"`gapmap datasets` and `gapmap columns` list them")


def layer(ctx: Context, indicator: str):
    if indicator not in ctx.layers:
        from geo.views import map_table

        found = map_table.statistics_layer(ctx.store, indicator, ctx.extent)
        ctx.layers[indicator] = found
        if found.dataset is not None:
            ctx.datasets[indicator] = {"synthetic": bool(found.meta.get("synthetic")),
                                       "disclosure": found.meta.get("disclosure", "")}
    return ctx.layers[indicator]


def _statistic(ctx: Context, kind: str, name: str) -> Group:
    indicator = resolve(ctx, name)
    found = layer(ctx, indicator)
    label = (found.dataset.meta.get("nhs_indicator") if found.dataset is not None else None) or name
    frame = found.frame.set_index("lsoa21cd").reindex(ctx.lsoas["lsoa21cd"])
    empty = np.zeros(len(frame), bool)
    if kind == "clusters":
        words = f"High-High local Moran clusters of {label}"
        if "lisa_cluster" not in frame:
            ctx.notes.append(f"No {words}: local Moran {found.meta.get('statistics', 'was not computed')}.")
            return Group(words, empty, np.full(len(frame), "", dtype=object))
        member = (frame["lisa_cluster"] == "High-High").to_numpy() & frame["value"].notna().to_numpy()
        p = frame["lisa_p"].to_numpy(float)
        return Group(words, member, np.array([f"{label} High-High cluster (local Moran, pseudo p = {q:.3f})"
                                              if m else "" for q, m in zip(p, member)], dtype=object))
    column, spot = ("gi_eb_bin", "gi_eb_spot") if kind == "smoothed-hotspots" else ("gi_bin", "gi_spot")
    sign = -1 if kind == "coldspots" else 1
    what = {"hotspots": "hot spots", "coldspots": "cold spots",
            "smoothed-hotspots": "hot spots of the EB-standardised rate"}[kind]
    words = f"{label} {what} (Gi*, 95% confidence or more, two-sided)"
    if column not in frame:
        reason = (f"Gi* {found.meta.get('statistics', 'was not computed')}" if kind != "smoothed-hotspots" else
                  "EB-standardised rates are computed for datasets of rates only (not proportions or LSOA columns)"
                  if "smoothed" not in found.meta else f"the smoothed rate was {found.meta['smoothed']}")
        ctx.notes.append(f"No {what} of {label}: {reason}.")
        return Group(words, empty, np.full(len(frame), "", dtype=object))
    bins = frame[column].to_numpy(float)
    member = np.nan_to_num(bins * sign) >= HOT_BIN
    member &= np.abs(bins) <= 3  # never "no data" (9) or "no neighbours with data" (8)
    basis = " of the EB-standardised rate" if kind == "smoothed-hotspots" else ""
    return Group(words, member, np.array([f"{label} {str(s).split(',')[0].lower()}{basis} "
                                          f"(Gi*, {str(s).split(', ')[-1]})" if m else ""
                                          for s, m in zip(frame[spot], member)], dtype=object))

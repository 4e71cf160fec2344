"""What every export calls each column of the map table, and the data dictionary that says what it holds.

One place for the names: the GeoJSON, GeoPackage and CSV exports of the map table, the ward CSV
and the statement's numbers all take them from here, so a field is called the same everywhere
and by what it holds. The map table (:mod:`geo.views.map_table`) keeps its short internal names
(``value``, ``count``, ``class``, ``gi_z``...), which the web map reads; an export renames them:

``value``          by the indicator's unit: ``rate_per_100000`` ("per 100,000 ... per year"),
                   ``rate_per_1000``, ``percent`` ("% of ..."), ``per_1000`` (a proportion per
                   1,000), ``ratio``, ``events_per_year``; an LSOA column (``imd_score``) keeps
                   its own name (and the copy is dropped when the table already holds it)
``lower``/``upper`` ``<value name>_lower_95`` / ``<value name>_upper_95``
``count``          ``events_published`` (after disclosure control: never a raw count)
``suppressed``     ``count_suppressed``
``smoothed``       ``<value name>_smoothed``
``class``          ``<scheme>_class`` (``quantile_class``, ``fisher_jenks_class``...)
``gi_z``, ``gi_p``, ``gi_bin``, ``gi_spot``  ``gi_star_z``, ``gi_star_p``, ``gi_star_bin``, ``hot_spot_level``
``lisa_cluster``, ``lisa_p``  ``local_moran_cluster``, ``local_moran_p``
``eb_standardised`` ``eb_standardised_z``; its Gi* ``gi_eb_z``, ``gi_eb_bin``, ``gi_eb_spot`` ->
                   ``gi_star_eb_z``, ``gi_star_eb_bin``, ``smoothed_hot_spot_level``
``ward_value``     ``ward_<value name>`` (the LSOA's ward's published figure)

The ward table (:func:`geo.outputs.exports.ward_table`) adds ``mean_value`` -> ``mean_lsoa_<value
name>``, ``lsoas_with_value`` -> ``lsoas_with_<value name>``, the group table's crude or
proportion columns -> ``crude_<value name>``..., and its deprivation summaries' ``population`` ->
``imd_summary_population``. :func:`dictionary` describes every field a frame holds.
"""
from __future__ import annotations

import re

SCHEME_CLASS = {"quantiles": "quantile_class", "fisher_jenks": "fisher_jenks_class",
                "equal_interval": "equal_interval_class", "std_mean": "std_mean_class",
                "imd_deciles": "imd_decile_class", "imd_quintiles": "imd_quintile_class"}
FIXED = {"count": "events_published", "suppressed": "count_suppressed", "gi_z": "gi_star_z", "gi_p": "gi_star_p",
         "gi_bin": "gi_star_bin", "gi_spot": "hot_spot_level", "lisa_cluster": "local_moran_cluster",
         "lisa_p": "local_moran_p", "eb_standardised": "eb_standardised_z", "gi_eb_z": "gi_star_eb_z",
         "gi_eb_bin": "gi_star_eb_bin", "gi_eb_spot": "smoothed_hot_spot_level"}
SUMMARY_POPULATION = "imd_summary_population"


def value_name(indicator: str, meta: dict) -> str:
    """The export's name of ``value``, from the unit every output prints (``meta["unit"]``, the
    dataset's definition): 'per 100,000 residents aged 0-10 per year' -> ``rate_per_100000``,
    '% of births' -> ``percent``; an LSOA column (no unit) keeps its own name."""
    unit = str(meta.get("unit") or "").strip()
    if not unit:
        return re.sub(r"[^a-z0-9_]+", "_", indicator.lower()).strip("_") or "value"
    if unit.startswith("%"):
        return "percent"
    per = re.match(r"per ([0-9,]+) ", unit)
    if per:
        number = per.group(1).replace(",", "")
        return f"rate_per_{number}" if unit.endswith("per year") else f"per_{number}"
    if unit.startswith("ratio"):
        times = re.search(r"x ([0-9,]+)", unit)
        return f"ratio_x{times.group(1).replace(',', '')}" if times else "ratio"
    if unit.startswith("events"):
        return "events_per_year" if unit.endswith("per year") else "events"
    return "value"


def export_names(columns, indicator: str, meta: dict, scheme: str = "quantiles") -> dict[str, str]:
    """Map-table (or ward-table) column -> export field, for the ``columns`` given; columns not
    named here keep their names (codes, names, IMD deciles, ``core20``...)."""
    v = value_name(indicator, meta)
    names = {"value": v, "lower": f"{v}_lower_95", "upper": f"{v}_upper_95", "smoothed": f"{v}_smoothed",
             "ward_value": f"ward_{v}",
             "class": SCHEME_CLASS.get(scheme, f"{scheme}_class"), "mean_value": f"mean_lsoa_{v}",
             "lsoas_with_value": f"lsoas_with_{v}", **FIXED}
    for kind in ("crude_rate", "proportion", "dsr"):  # a group table's own columns beside its headline
        stem = "crude_" + v if kind == "crude_rate" else f"{kind}_{v}"
        names.update({kind: stem, f"{kind}_lower" if kind != "crude_rate" else "crude_lower": f"{stem}_lower_95",
                      f"{kind}_upper" if kind != "crude_rate" else "crude_upper": f"{stem}_upper_95"})
    return {c: names.get(c, c) for c in columns}


def rename(frame, indicator: str, meta: dict, scheme: str = "quantiles"):
    """``frame`` with its export field names; ``value`` is dropped where it only repeats an LSOA
    column the frame already holds (``imd_score`` mapped by ``imd_score``)."""
    names = export_names(frame.columns, indicator, meta, scheme)
    if "value" in frame and names["value"] in frame.columns:
        frame = frame.drop(columns="value")
        names.pop("value")
    return frame.rename(columns=names)


def _value_words(indicator: str, meta: dict) -> str:
    if meta.get("unit"):
        return f"{meta.get('measure') or indicator} ({meta['unit']})"
    from geo.store.schema import lsoa_columns

    return lsoa_columns().get(indicator, indicator)


def dictionary(columns, indicator: str, meta: dict, scheme: str = "quantiles", level: str = "lsoa") -> dict[str, str]:
    """Export field -> what it holds, for every field of ``columns`` (export names), in order; with
    ``level="ward"`` the figures are described as the ward table's (each ward's published total)."""
    from geo.store.schema import area_columns, lsoa_columns

    v = value_name(indicator, meta)
    what = _value_words(indicator, meta)
    published = "from the published (disclosure-controlled) count"
    described = {
        v: f"The indicator: {what}" + (f", {published}" if meta.get("unit") else ""),
        f"{v}_lower_95": f"Lower 95% confidence limit of {v} (PHE: exact Poisson under 10 events, Byar's above; "
                         "Wilson for percentages)",
        f"{v}_upper_95": f"Upper 95% confidence limit of {v}",
        f"{v}_smoothed": str(meta.get("smoothed") or f"{v} smoothed by spatial empirical Bayes"),
        "events_published": "Events after disclosure control: " + str(meta.get("disclosure") or "") +
                            " Empty where suppressed.",
        "count_suppressed": "True where the count is suppressed (1 to 7 events): no value, class or statistic",
        "population": "The denominator: residents of the indicator's ages (ONS mid-2020) or the one supplied with "
                      "the data",
        "person_years": "Residents x years of data: the person-years at risk the rate divides by",
        SCHEME_CLASS.get(scheme, f"{scheme}_class"): f"Class of {v} by {scheme.replace('_', ' ')} (0 = lowest; "
                                                      "-1 = no data or suppressed)",
        "class_label": "The class in words ('12.3 to 25.0', 'No data', 'Suppressed (1 to 7 events)')",
        "gi_star_z": f"Getis-Ord Gi* z-score of {v} (queen contiguity including the LSOA; analytic)",
        "gi_star_p": "Gi* p-value: " + str(meta.get("p_value_convention") or "folded") + " (see the metadata's "
                     "p_values)",
        "gi_star_bin": "Gi* confidence bin: 3, 2, 1 = hot spot at 99, 95, 90% confidence; 0 = not significant; "
                       "-1 to -3 = cold spot; empty without a value",
        "hot_spot_level": "The Gi* bin in words ('Hot spot, 99% confidence' ... 'Not significant' ... 'Cold spot, "
                          "99% confidence', 'No data', 'No neighbours with data')",
        "local_moran_cluster": "Local Moran's I cluster (High-High, Low-Low, High-Low, Low-High, Not significant, "
                               "No data, No neighbours with data)",
        "local_moran_p": "Local Moran conditional-permutation pseudo p-value",
        "bivariate_class": "'d-a': tercile of the IMD 2025 score (d) and of the indicator (a), 1 = low, 3 = high",
        "eb_standardised_z": "Empirical Bayes standardised rate (Assuncao and Reis 1999, GeoDa's EB rate): the LSOA's "
                             "rate from its published count minus the extent's, over its own sampling noise (a "
                             "z-score: a small LSOA's extreme rate weighs less)",
        "gi_star_eb_z": "Gi* z-score of eb_standardised_z: the hot spots of the smoothed view",
        "gi_star_eb_bin": "Its confidence bin (3, 2, 1 = hot spot at 99, 95, 90%; 0 = not significant; -1 to -3 = cold "
                          "spot)",
        "smoothed_hot_spot_level": "That bin in words ('Hot spot, 99% confidence' ... 'Not significant' ...)",
        f"ward_{v}": str(meta.get("ward_values") or f"The LSOA's ward's published {v}"),
        "mean_lsoa_" + v: f"Mean of {v} over the ward's LSOAs that have a published value",
        "lsoas_with_" + v: f"LSOAs of the ward with a published {v}",
        "core20_lsoas": "LSOAs of the ward in national IMD 2025 deciles 1-2 (Core20)",
        "crude_" + v: f"Crude {what} of the whole ward, from its published total",
        f"crude_{v}_lower_95": "Its lower 95% limit", f"crude_{v}_upper_95": "Its upper 95% limit",
        f"proportion_{v}": f"The ward's proportion ({what}) from its published totals",
        f"proportion_{v}_lower_95": "Its lower 95% limit (Wilson)", f"proportion_{v}_upper_95": "Its upper 95% limit",
        f"dsr_{v}": f"Directly age-standardised {what}", f"dsr_{v}_lower_95": "Its lower 95% limit (Dobson)",
        f"dsr_{v}_upper_95": "Its upper 95% limit (Dobson)",
        SUMMARY_POPULATION: area_columns("ward").get("population", "Population of the deprivation summaries"),
        "lsoas": "Number of LSOAs in the ward",
    }
    if level == "ward":  # the ward's own figures, from its published (perturbed, rounded) total
        described.update({
            v: f"The ward's {what}, from its published total",
            "events_published": "The ward's events after disclosure control: " + str(meta.get("disclosure") or "") +
                                " Empty where hidden.",
            "count_suppressed": "True where the ward's total is hidden (1 to 7 events, or a small total): no figure",
            "population": "The ward's denominator: residents of the indicator's ages (ONS mid-2020) or the one "
                          "supplied with the data"})
    known = {**lsoa_columns(), **area_columns("ward"), **described}
    return {c: known.get(c, "") for c in columns if c != "geometry"}


def undescribed(fields: dict) -> list[str]:
    """The fields of a :func:`dictionary` that it could not describe (a test asks for none)."""
    return [name for name, text in fields.items() if not text]

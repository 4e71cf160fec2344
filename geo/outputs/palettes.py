"""Colours shared by the web maps and the slides, so both draw the same classes alike.

ColorBrewer sequential ramps (colour-blind safe): purples for deprivation, teal-blues for activity.
"""
from __future__ import annotations

import numpy as np

PURPLES = ["#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f", "#3f007d"]
TEALS = ["#f7fcf0", "#e0f3db", "#ccebc5", "#a8ddb5", "#7bccc4", "#4eb3d3", "#2b8cbe", "#08589e"]
NO_DATA_COLOUR = "#d9d9d9"
NOT_SIGNIFICANT = "#f7f7f7"
LISA_COLOURS = {"High-High": "#d7191c", "Low-Low": "#2c7bb6", "Low-High": "#abd9e9", "High-Low": "#fdae61"}
GI_COLOURS = {3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac"}
RURAL_COLOURS = {"Urban": "#bdbdbd", "Rural": "#74c476"}


def ramp(colours: list[str], n: int) -> list[str]:
    if n <= 1:
        return [colours[-1]]
    picks = np.linspace(0, len(colours) - 1, n).round().astype(int)
    return [colours[i] for i in picks]


def is_deprivation(indicator: str) -> bool:
    return indicator.startswith("imd") or indicator.split("_")[0] in (
        "income", "employment", "education", "health", "crime", "barriers", "living")
